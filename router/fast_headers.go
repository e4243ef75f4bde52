package router

import (
	"bytes"
	"strings"

	"github.com/valyala/fasthttp"
)

// fastHeaders adapts a fasthttp request or response header to Headers.
type fastHeaders[H interface {
	Peek(string) []byte
	PeekAll(string) [][]byte
	Set(string, string)
	Add(string, string)
	Del(string)
}] struct{ h H }

func (f fastHeaders[H]) Get(n string) string { return string(f.h.Peek(n)) }

func (f fastHeaders[H]) Values(n string) []string {
	all := f.h.PeekAll(n)
	if len(all) == 0 {
		return nil
	}
	out := make([]string, len(all))
	for i, v := range all {
		out[i] = string(v)
	}
	return out
}

func (f fastHeaders[H]) Set(n, v string) { f.h.Set(n, v) }
func (f fastHeaders[H]) Add(n, v string) { f.h.Add(n, v) }
func (f fastHeaders[H]) Del(n string)    { f.h.Del(n) }

type (
	fastReqHeaders  = fastHeaders[*fasthttp.RequestHeader]
	fastRespHeaders = fastHeaders[*fasthttp.ResponseHeader]
)

// dropOnEntry says which request headers never pass the edge: 1 for
// hop-by-hop ones, 2 for the address-claiming ones (dropped from
// untrusted clients), as sanitizeRequest.
var dropOnEntry = func() map[string]uint8 {
	m := map[string]uint8{}
	for _, h := range hopByHop {
		m[h] = 1
	}
	for _, h := range clientAddressHeaders {
		m[h] = 2
	}
	// Replaced by Portico's own (see outboundHead).
	for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		m[h] = 2
	}
	return m
}()

// sanitizeFast is sanitizeRequest for the fast engine, in one pass over
// the headers: hop-by-hop headers and those the client's Connection header
// names, names with an underscore, and (from untrusted clients) the
// address-claiming headers are removed; "Te: trailers" is kept. Upgrades
// never get here (they are handed to net/http).
func sanitizeFast(h *fasthttp.RequestHeader, trusted bool) {
	trailers := false
	for _, v := range h.PeekAll("Te") {
		if headerHasToken(v, "trailers") {
			trailers = true
		}
	}
	var named [][]byte
	for _, v := range h.PeekAll("Connection") {
		for _, tok := range bytes.Split(v, []byte{','}) {
			if tok = bytes.TrimSpace(tok); len(tok) > 0 {
				named = append(named, tok)
			}
		}
	}
	var drop []string
	for k := range h.All() {
		kind := dropOnEntry[string(k)]
		if kind == 1 || kind == 2 && !trusted || bytes.IndexByte(k, '_') >= 0 {
			drop = append(drop, string(k))
		}
	}
	for _, n := range named {
		h.DelBytes(n)
	}
	for _, n := range drop {
		h.Del(n)
	}
	h.Del("Connection") // also what fasthttp keeps as a flag
	if trailers {
		h.Set("Te", "trailers")
	}
}

func headerHasToken(v []byte, token string) bool {
	for _, tok := range bytes.Split(v, []byte{','}) {
		if strings.EqualFold(string(bytes.TrimSpace(tok)), token) {
			return true
		}
	}
	return false
}

// hopByHopResponse returns the name of a response header that never
// passes a proxy, or "" (fasthttp frames the body itself:
// Transfer-Encoding is not among its headers).
func hopByHopResponse(name []byte) string {
	switch string(name) {
	case "Connection":
		return "Connection"
	case "Keep-Alive":
		return "Keep-Alive"
	case "Proxy-Connection":
		return "Proxy-Connection"
	case "Proxy-Authenticate":
		return "Proxy-Authenticate"
	case "Upgrade":
		return "Upgrade"
	}
	return ""
}

// cleanResponse removes the upstream response's hop-by-hop headers and
// those its Connection header names, in one pass over the headers.
func cleanResponse(h *fasthttp.ResponseHeader) {
	var buf [4]string
	drop := buf[:0]
	for k, v := range h.All() {
		name := hopByHopResponse(k)
		if name == "" {
			continue
		}
		drop = append(drop, name)
		if name != "Connection" {
			continue
		}
		for _, tok := range bytes.Split(v, []byte{','}) {
			if tok = bytes.TrimSpace(tok); len(tok) > 0 && !bytes.EqualFold(tok, []byte("close")) && !bytes.EqualFold(tok, []byte("keep-alive")) {
				drop = append(drop, string(tok))
			}
		}
	}
	for _, n := range drop {
		h.Del(n)
	}
	if h.ConnectionClose() {
		h.ResetConnectionClose()
	}
}
