package router

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// engineUnderTest is one engine serving a table whose backend records
// every request it receives.
type engineUnderTest struct {
	addr string
	mu   sync.Mutex
	seen []string
}

func startEngine(t testing.TB, e Engine) *engineUnderTest {
	u := &engineUnderTest{}
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var hs []string
		for k, v := range r.Header {
			switch k {
			case "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip", "Accept-Encoding", "User-Agent":
				continue
			case "Content-Length":
				if len(body) == 0 {
					continue // an empty body may be declared or not
				}
			}
			hs = append(hs, k+"="+strings.Join(v, ","))
		}
		sort.Strings(hs)
		u.mu.Lock()
		u.seen = append(u.seen, fmt.Sprintf("%s %s host=%s body=%q %v", r.Method, r.URL.RequestURI(), r.Host, body, hs))
		u.mu.Unlock()
		w.Header().Set("X-From", "backend")
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(be.Close)
	rt := New(Options{Edge: EdgeOptions{Engine: e, BodyReadTimeout: 300 * time.Millisecond}})
	rt.Swap(Compile(Config{Routes: []Route{
		{Host: "a.test", HostMatch: HostExact, Path: "/", Backends: []WeightedBackend{{Backend: &Backend{Name: "b", Endpoints: []Endpoint{{addr(be)}}}, Weight: 1}}},
		{Host: "a.test", HostMatch: HostExact, Path: "/x", PathMatch: PathExact, Redirect: &Redirect{Path: &PathModifier{Value: "/y"}, StatusCode: 301}},
	}}))
	u.addr = startStrict(t, rt)
	return u
}

// exchange writes raw on a new connection, half-closes it and returns the
// status codes of the responses read back (bounded in time).
func (u *engineUnderTest) exchange(raw []byte) ([]string, []string) {
	u.mu.Lock()
	u.seen = nil
	u.mu.Unlock()
	c, err := net.Dial("tcp", u.addr)
	if err != nil {
		return []string{"dial: " + err.Error()}, nil
	}
	defer c.Close()
	// No half-close: net/http takes a client's EOF for a client gone
	// (499). Read until the connection closes or stays quiet.
	_, _ = c.Write(raw)
	var out []byte
	buf := make([]byte, 4096)
	for start := time.Now(); time.Since(start) < 2*time.Second; {
		_ = c.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			break
		}
	}
	var codes []string
	for _, line := range bytes.Split(out, []byte("\r\n")) {
		if bytes.HasPrefix(line, []byte("HTTP/1.")) && len(line) >= 12 {
			codes = append(codes, string(line[9:12]))
		}
	}
	time.Sleep(5 * time.Millisecond) // let the backend's log settle
	u.mu.Lock()
	defer u.mu.Unlock()
	return codes, append([]string(nil), u.seen...)
}

// FuzzFastEngine is differential: whatever bytes a client sends, the fast
// engine must pass the same requests to the backend as net/http does (a
// difference is a smuggling or parsing gap), and answer with the same
// status codes.
func FuzzFastEngine(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n",
		"GET /a/../b?q=1 HTTP/1.1\r\nHost: a.test\r\nX-A: 1\r\n\r\nGET /x HTTP/1.1\r\nHost: a.test\r\n\r\n",
		"POST /p HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n\r\nabc",
		"POST /p HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"POST /p HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"GET / HTTP/1.0\r\nHost: a.test\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.1\r\nHost: A.TEST:80\r\n\r\n",
		"GET /%2e%2e/%61 HTTP/1.1\r\nHost: a.test\r\nConnection: close, X-B\r\nX-B: 2\r\nX_C: 3\r\n\r\n",
		"GET http://a.test/abs HTTP/1.1\r\nHost: other\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: b.test\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	std, fast := startEngine(f, EngineStd), startEngine(f, EngineFast)
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 4096 {
			return
		}
		sc, sb := std.exchange(raw)
		fc, fb := fast.exchange(raw)
		// What reaches the backend must be the same request for request;
		// the answers too, except that one engine may wait for more bytes
		// where the other already refused garbage.
		// Framing errors fail the read they arrive in, so where a valid
		// request and garbage share a read depends on how the bytes were
		// read: one engine may serve a valid first request the other
		// refused along with the garbage. Then the shorter sequence must
		// be a prefix of the longer and end in a refusal.
		if prefixRefused(sb, fb, sc) || prefixRefused(fb, sb, fc) {
			return
		}
		sameCodes := strings.Join(sc, ",") == strings.Join(fc, ",") || len(sb) == 0 && len(fb) == 0 && (len(sc) == 0 || len(fc) == 0 || refusals(sc) && refusals(fc))
		if !sameCodes || strings.Join(sb, "\n") != strings.Join(fb, "\n") {
			t.Fatalf("engines disagree on %q:\nstd:  %v\n      %v\nfast: %v\n      %v", raw, sc, sb, fc, fb)
		}
	})
}

// refusals reports whether every answer is a 4xx: neither engine served
// anything (fasthttp refuses an empty Host that net/http routes to 404).
func refusals(codes []string) bool {
	for _, c := range codes {
		if c[0] != '4' {
			return false
		}
	}
	return true
}

// prefixRefused reports whether short is a proper prefix of long and the
// engine that served short ended with a refusal.
func prefixRefused(short, long, shortCodes []string) bool {
	if len(short) >= len(long) || len(shortCodes) == 0 || shortCodes[len(shortCodes)-1][0] != '4' {
		return false
	}
	for i := range short {
		if short[i] != long[i] {
			return false
		}
	}
	return true
}
