//go:build edge

package edge

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/edge/edgetest"
)

// smuggled is the request every attack hides, in its body or after it. The
// backend must never receive it.
const smuggled = "GET /SMUGGLED HTTP/1.1\r\nHost: smuggle.test\r\n\r\n"

var (
	// clteBody ends a chunked body at once and carries smuggled after it:
	// a proxy framing by Transfer-Encoding sees an empty body followed by a
	// second request; one framing by Content-Length (len(clteBody)) sees
	// one body.
	clteBody = "0\r\n\r\n" + smuggled
	clteLen  = strconv.Itoa(len(clteBody))
	// teclBody is one chunk holding smuggled: framed by Content-Length: 4
	// the body is "2e\r\n" and smuggled becomes the next request.
	teclBody = fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(smuggled), smuggled)
	teclLen  = strconv.Itoa(len(fmt.Sprintf("%x\r\n", len(smuggled))))
	// chunkedSmuggle is a well-formed chunked body whose data is
	// "hello" + smuggled.
	chunkedSmuggle = fmt.Sprintf("5\r\nhello\r\n%x\r\n%s\r\n0\r\n\r\n", len(smuggled), smuggled)
)

type smuggleWant int

const (
	// reject: Portico answers one of codes (default 400), closes the
	// connection, and the backend receives nothing.
	reject smuggleWant = iota
	// accept: a legal framing: exactly one 200 and exactly one complete
	// request at the backend with body.
	accept
	// either: a framing RFC 9112 lets a server accept or reject; whichever
	// Portico does must be done cleanly (accept or reject above).
	either
)

func (w smuggleWant) String() string {
	return [...]string{"reject (4xx/5xx, close, nothing forwarded)", "accept (one 200, one complete request forwarded)", "reject or accept cleanly"}[w]
}

type smuggleCase struct {
	name string
	// raw is the exact bytes sent; "{P}" is replaced by the case's path
	// /s/<name>.
	raw   string
	want  smuggleWant
	codes []int // allowed rejection codes; default 400
	body  string
	// check, for accepted requests, returns a problem or "".
	check func(r edgetest.Request) string
}

// post is a POST to {P} with Host smuggle.test, the header lines given and
// body.
func post(headers []string, body string) string {
	return postProto("HTTP/1.1", headers, body)
}

func postProto(proto string, headers []string, body string) string {
	var b strings.Builder
	b.WriteString("POST {P} " + proto + "\r\nHost: smuggle.test\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.String()
}

// get is a request line + Host + headers, followed by a pipelined smuggled
// request that must never be reached (the first request must be rejected
// and the connection closed).
func getThenSmuggle(requestLine string, headers ...string) string {
	var b strings.Builder
	b.WriteString(requestLine + "\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n" + smuggled)
	return b.String()
}

var codes400or501 = []int{400, 501}

func smugglingCases() []smuggleCase {
	var cases []smuggleCase
	// CL + TE in every spelling of Transfer-Encoding, both orders. RFC 9112
	// §6.1/§6.3: a request with both is an attack signal; the issue asks for
	// 400 and close. Unknown codings may get 501 (§6.1: "A server that
	// receives a request message with a transfer coding it does not
	// understand SHOULD respond with 501").
	teVariants := []struct {
		name, line string
		codes      []int
	}{
		{"chunked", "Transfer-Encoding: chunked", nil},
		{"Chunked", "Transfer-Encoding: Chunked", nil},
		{"CHUNKED", "Transfer-Encoding: CHUNKED", nil},
		{"lower-name", "transfer-encoding: chunked", nil},
		{"spaces-around", "Transfer-Encoding:  chunked ", nil},
		{"tab-before", "Transfer-Encoding:\tchunked", nil},
		{"tab-after", "Transfer-Encoding: chunked\t", nil},
		{"vtab-before", "Transfer-Encoding: \x0bchunked", codes400or501},
		{"chunked-identity", "Transfer-Encoding: chunked, identity", codes400or501},
		{"identity-chunked", "Transfer-Encoding: identity, chunked", codes400or501},
		{"gzip-chunked", "Transfer-Encoding: gzip, chunked", codes400or501},
		{"chunked-chunked", "Transfer-Encoding: chunked, chunked", codes400or501},
		{"empty-element", "Transfer-Encoding: , chunked", codes400or501},
		{"x-chunked", "Transfer-Encoding: x-chunked", codes400or501},
		{"quoted", `Transfer-Encoding: "chunked"`, codes400or501},
		{"param", "Transfer-Encoding: chunked;q=1", codes400or501},
		{"duplicate", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked", codes400or501},
		{"duplicate-identity", "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity", codes400or501},
		{"obs-fold", "Transfer-Encoding:\r\n chunked", nil},
		{"space-before-colon", "Transfer-Encoding : chunked", nil},
		{"nul-in-value", "Transfer-Encoding: chunked\x00", nil},
		{"cr-in-value", "Transfer-Encoding: chu\rnked", nil},
	}
	for _, v := range teVariants {
		cases = append(cases,
			smuggleCase{name: "cl-te/" + v.name, raw: post([]string{"Content-Length: " + clteLen, v.line}, clteBody), want: reject, codes: v.codes},
			smuggleCase{name: "te-cl/" + v.name, raw: post([]string{v.line, "Content-Length: " + teclLen}, teclBody), want: reject, codes: v.codes},
		)
	}
	cases = append(cases,
		// Transfer-Encoding in HTTP/1.0 (RFC 9112 §6.1: "MUST treat the
		// message as if the framing is faulty, even if a Content-Length is
		// present, and close the connection").
		smuggleCase{name: "http10/te-cl", raw: postProto("HTTP/1.0", []string{"Content-Length: " + clteLen, "Transfer-Encoding: chunked"}, clteBody), want: reject},
		smuggleCase{name: "http10/te-only", raw: postProto("HTTP/1.0", []string{"Transfer-Encoding: chunked"}, chunkedSmuggle), want: reject},
		smuggleCase{name: "http10/cl-control", raw: postProto("HTTP/1.0", []string{"Content-Length: " + clteLen}, clteBody), want: accept, body: clteBody},

		// Connection naming framing fields.
		smuggleCase{name: "connection/te-cl", raw: post([]string{"Connection: Transfer-Encoding", "Content-Length: " + clteLen, "Transfer-Encoding: chunked"}, clteBody), want: reject},
		smuggleCase{name: "connection/cl-te", raw: post([]string{"Content-Length: " + clteLen, "Transfer-Encoding: chunked", "Connection: Content-Length"}, clteBody), want: reject},
		smuggleCase{name: "connection/keep-alive-cl-te", raw: post([]string{"Connection: keep-alive", "Content-Length: " + clteLen, "Transfer-Encoding: chunked"}, clteBody), want: reject},
		smuggleCase{name: "connection/cl-only", raw: post([]string{"Connection: Content-Length", "Content-Length: " + clteLen}, clteBody), want: either, body: clteBody},
		smuggleCase{name: "connection/te-only", raw: post([]string{"Connection: Transfer-Encoding", "Transfer-Encoding: chunked"}, chunkedSmuggle), want: either, body: "hello" + smuggled},
		smuggleCase{name: "expect-100/cl-te", raw: post([]string{"Expect: 100-continue", "Content-Length: " + clteLen, "Transfer-Encoding: chunked"}, clteBody), want: reject, codes: []int{400, 417}},

		// Content-Length syntax (RFC 9110 §8.6: 1*DIGIT; RFC 9112 §6.3 item 5:
		// differing or invalid values are unrecoverable errors -> 400).
		smuggleCase{name: "cl/duplicate-differ", raw: post([]string{"Content-Length: " + clteLen, "Content-Length: 5"}, clteBody), want: reject},
		smuggleCase{name: "cl/duplicate-same", raw: post([]string{"Content-Length: " + clteLen, "Content-Length: " + clteLen}, clteBody), want: either, body: clteBody},
		smuggleCase{name: "cl/duplicate-case-differ", raw: post([]string{"Content-Length: 5", "content-length: " + clteLen}, clteBody), want: reject},
		smuggleCase{name: "cl/list-differ", raw: post([]string{"Content-Length: 5, " + clteLen}, clteBody), want: reject},
		smuggleCase{name: "cl/list-same", raw: post([]string{"Content-Length: " + clteLen + ", " + clteLen}, clteBody), want: either, body: clteBody},
		smuggleCase{name: "cl/plus", raw: post([]string{"Content-Length: +" + clteLen}, clteBody), want: reject},
		smuggleCase{name: "cl/minus-one", raw: post([]string{"Content-Length: -1"}, clteBody), want: reject},
		smuggleCase{name: "cl/hex", raw: post([]string{fmt.Sprintf("Content-Length: 0x%x", len(clteBody))}, clteBody), want: reject},
		smuggleCase{name: "cl/exponent", raw: post([]string{"Content-Length: 5e1"}, clteBody), want: reject},
		smuggleCase{name: "cl/decimal-point", raw: post([]string{"Content-Length: " + clteLen + ".0"}, clteBody), want: reject},
		smuggleCase{name: "cl/inner-space", raw: post([]string{"Content-Length: 5 1"}, clteBody), want: reject},
		smuggleCase{name: "cl/empty", raw: post([]string{"Content-Length: "}, clteBody), want: reject},
		smuggleCase{name: "cl/nul", raw: post([]string{"Content-Length: " + clteLen + "\x00"}, clteBody), want: reject},
		smuggleCase{name: "cl/huge-overflow", raw: post([]string{"Content-Length: 99999999999999999999999"}, clteBody), want: reject, codes: []int{400, 413}},
		smuggleCase{name: "cl/2pow64", raw: post([]string{"Content-Length: 18446744073709551616"}, clteBody), want: reject, codes: []int{400, 413}},
		// OWS around a field value is not part of it (RFC 9110 §5.5), and
		// leading zeros are digits: both are the plain length.
		smuggleCase{name: "cl/ows", raw: post([]string{"Content-Length:   " + clteLen + "  "}, clteBody), want: accept, body: clteBody},
		smuggleCase{name: "cl/leading-zeros", raw: post([]string{"Content-Length: 00" + clteLen}, clteBody), want: accept, body: clteBody},
		smuggleCase{name: "cl/obs-fold", raw: post([]string{"Content-Length:", " " + clteLen}, clteBody), want: either, body: clteBody},
		// Transfer_Encoding is not Transfer-Encoding; it must not reach the
		// backend (underscore fields are dropped, as nginx does).
		smuggleCase{name: "cl/transfer_encoding-underscore", raw: post([]string{"Content-Length: " + clteLen, "Transfer_Encoding: chunked"}, clteBody), want: either, body: clteBody,
			check: func(r edgetest.Request) string {
				if r.Has("Transfer_Encoding") {
					return "backend received the underscore field Transfer_Encoding"
				}
				return ""
			}},
		smuggleCase{name: "cl/control", raw: post([]string{"Content-Length: " + clteLen}, clteBody), want: accept, body: clteBody},

		// Chunked bodies (RFC 9112 §7.1).
		smuggleCase{name: "chunked/control", raw: post([]string{"Transfer-Encoding: chunked"}, chunkedSmuggle), want: accept, body: "hello" + smuggled},
		smuggleCase{name: "chunked/size-overflow", raw: post([]string{"Transfer-Encoding: chunked"}, "ffffffffffffffff1\r\nhello\r\n0\r\n\r\n"+smuggled), want: reject},
		smuggleCase{name: "chunked/size-2pow64", raw: post([]string{"Transfer-Encoding: chunked"}, "10000000000000000\r\nhello\r\n0\r\n\r\n"+smuggled), want: reject},
		smuggleCase{name: "chunked/size-negative", raw: post([]string{"Transfer-Encoding: chunked"}, "-5\r\nhello\r\n0\r\n\r\n"+smuggled), want: reject},
		smuggleCase{name: "chunked/size-0x", raw: post([]string{"Transfer-Encoding: chunked"}, "0x5\r\nhello\r\n0\r\n\r\n"+smuggled), want: reject},
		smuggleCase{name: "chunked/size-leading-space", raw: post([]string{"Transfer-Encoding: chunked"}, " 5\r\nhello\r\n0\r\n\r\n"+smuggled), want: reject},
		smuggleCase{name: "chunked/size-empty", raw: post([]string{"Transfer-Encoding: chunked"}, "\r\nhello\r\n0\r\n\r\n"+smuggled), want: reject},
		smuggleCase{name: "chunked/size-trailing-space", raw: post([]string{"Transfer-Encoding: chunked"}, "5 \r\nhello\r\n0\r\n\r\n"), want: either, body: "hello"},
		smuggleCase{name: "chunked/size-leading-zeros", raw: post([]string{"Transfer-Encoding: chunked"}, "0005\r\nhello\r\n0000\r\n\r\n"), want: accept, body: "hello"},
		smuggleCase{name: "chunked/size-upper-hex", raw: post([]string{"Transfer-Encoding: chunked"}, "A\r\n0123456789\r\n0\r\n\r\n"), want: accept, body: "0123456789"},
		smuggleCase{name: "chunked/ext-valid", raw: post([]string{"Transfer-Encoding: chunked"}, "5;name=value\r\nhello\r\n0;last\r\n\r\n"), want: accept, body: "hello"},
		smuggleCase{name: "chunked/ext-quoted", raw: post([]string{"Transfer-Encoding: chunked"}, "5;name=\"a b;c\"\r\nhello\r\n0\r\n\r\n"), want: accept, body: "hello"},
		smuggleCase{name: "chunked/ext-nul", raw: post([]string{"Transfer-Encoding: chunked"}, "5;a\x00b\r\nhello\r\n0\r\n\r\n"+smuggled), want: reject},
		smuggleCase{name: "chunked/ext-bare-lf", raw: post([]string{"Transfer-Encoding: chunked"}, "5;a\nb\r\nhello\r\n0\r\n\r\n"+smuggled), want: reject},
		smuggleCase{name: "chunked/ext-bare-cr", raw: post([]string{"Transfer-Encoding: chunked"}, "5;a\rb\r\nhello\r\n0\r\n\r\n"+smuggled), want: reject},
		smuggleCase{name: "chunked/ext-bad-char", raw: post([]string{"Transfer-Encoding: chunked"}, "5;a\x7fb\r\nhello\r\n0\r\n\r\n"+smuggled), want: reject},
		smuggleCase{name: "chunked/missing-crlf-after-data", raw: post([]string{"Transfer-Encoding: chunked"}, "5\r\nhelloXX0\r\n\r\n"+smuggled), want: reject},
		smuggleCase{name: "chunked/data-longer-than-size", raw: post([]string{"Transfer-Encoding: chunked"}, "3\r\nhello\r\n0\r\n\r\n"+smuggled), want: reject},
		smuggleCase{name: "chunked/bare-lf-size-line", raw: post([]string{"Transfer-Encoding: chunked"}, "5\nhello\r\n0\r\n\r\n"+smuggled), want: reject},
		smuggleCase{name: "chunked/bare-lf-after-data", raw: post([]string{"Transfer-Encoding: chunked"}, "5\r\nhello\n0\r\n\r\n"+smuggled), want: reject},
		smuggleCase{name: "chunked/last-chunk-bare-lf", raw: post([]string{"Transfer-Encoding: chunked"}, "5\r\nhello\r\n0\n\n"+smuggled), want: reject},
		smuggleCase{name: "chunked/garbage-after-first-chunk", raw: post([]string{"Transfer-Encoding: chunked"}, "5\r\nhello\r\nZZ\r\nworld\r\n0\r\n\r\n"+smuggled), want: reject},
		smuggleCase{name: "chunked/trailer-content-length", raw: post([]string{"Transfer-Encoding: chunked"}, "5\r\nhello\r\n0\r\nContent-Length: "+clteLen+"\r\n\r\n"), want: either, body: "hello"},
		smuggleCase{name: "chunked/trailer-transfer-encoding", raw: post([]string{"Transfer-Encoding: chunked"}, "5\r\nhello\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n"), want: either, body: "hello"},
		smuggleCase{name: "chunked/trailer-no-colon", raw: post([]string{"Transfer-Encoding: chunked"}, "5\r\nhello\r\n0\r\nno colon here\r\n\r\n"+smuggled), want: reject},
		smuggleCase{name: "chunked/trailer-obs-fold", raw: post([]string{"Transfer-Encoding: chunked"}, "5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n"), want: either, body: "hello"},

		// Field syntax (RFC 9110 §5.1 field names are tokens; §5.5 values
		// hold no CR, LF or NUL; RFC 9112 §5.1 no whitespace before the
		// colon, §2.2 a bare CR is invalid).
		smuggleCase{name: "field/space-in-name", raw: post([]string{"X Foo: a", "Content-Length: " + clteLen, "Transfer-Encoding: chunked"}, clteBody), want: reject},
		smuggleCase{name: "field/empty-name", raw: getThenSmuggle("GET {P} HTTP/1.1", "Host: smuggle.test", ": a"), want: reject},
		smuggleCase{name: "field/paren-in-name", raw: getThenSmuggle("GET {P} HTTP/1.1", "Host: smuggle.test", "X(Foo): a"), want: reject},
		smuggleCase{name: "field/ctl-in-name", raw: getThenSmuggle("GET {P} HTTP/1.1", "Host: smuggle.test", "X\x01Foo: a"), want: reject},
		smuggleCase{name: "field/high-bit-in-name", raw: getThenSmuggle("GET {P} HTTP/1.1", "Host: smuggle.test", "X\xffFoo: a"), want: reject},
		smuggleCase{name: "field/nul-in-value", raw: getThenSmuggle("GET {P} HTTP/1.1", "Host: smuggle.test", "X-Foo: a\x00b"), want: reject},
		smuggleCase{name: "field/cr-in-value", raw: getThenSmuggle("GET {P} HTTP/1.1", "Host: smuggle.test", "X-Foo: a\rb"), want: reject},
		smuggleCase{name: "field/bare-cr-line-end", raw: post([]string{"X-Foo: a\rTransfer-Encoding: chunked", "Content-Length: " + clteLen}, clteBody), want: reject},
		smuggleCase{name: "field/leading-whitespace-first-line", raw: "POST {P} HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: smuggle.test\r\nContent-Length: " + clteLen + "\r\n\r\n" + clteBody, want: reject},
		smuggleCase{name: "field/obs-fold-other", raw: post([]string{"X-Foo: a", " b", "Content-Length: 5"}, "hello"), want: either, body: "hello"},
		smuggleCase{name: "field/lone-lf-te-line", raw: "POST {P} HTTP/1.1\r\nHost: smuggle.test\r\nTransfer-Encoding: chunked\nContent-Length: " + clteLen + "\r\n\r\n" + clteBody, want: reject},
		smuggleCase{name: "field/lone-lf-everywhere-cl-te", raw: "POST {P} HTTP/1.1\nHost: smuggle.test\nContent-Length: " + clteLen + "\nTransfer-Encoding: chunked\n\n" + clteBody, want: reject},
		smuggleCase{name: "field/lone-lf-everywhere-get", raw: "GET {P} HTTP/1.1\nHost: smuggle.test\n\n", want: either, body: ""},
		smuggleCase{name: "host/missing", raw: getThenSmuggle("GET {P} HTTP/1.1"), want: reject},
		smuggleCase{name: "host/duplicate", raw: getThenSmuggle("GET {P} HTTP/1.1", "Host: smuggle.test", "Host: other.test"), want: reject},
		smuggleCase{name: "host/space-inside", raw: getThenSmuggle("GET {P} HTTP/1.1", "Host: smuggle.test other.test"), want: reject},

		// Request line (RFC 9112 §3: method SP request-target SP
		// HTTP-version, single spaces, case-sensitive HTTP name).
		smuggleCase{name: "line/two-spaces-before-target", raw: getThenSmuggle("GET  {P} HTTP/1.1", "Host: smuggle.test"), want: reject},
		smuggleCase{name: "line/two-spaces-before-version", raw: getThenSmuggle("GET {P}  HTTP/1.1", "Host: smuggle.test"), want: reject},
		smuggleCase{name: "line/extra-token", raw: getThenSmuggle("GET {P} HTTP/1.1 x", "Host: smuggle.test"), want: reject},
		smuggleCase{name: "line/tabs", raw: getThenSmuggle("GET\t{P}\tHTTP/1.1", "Host: smuggle.test"), want: reject},
		smuggleCase{name: "line/space-in-target", raw: getThenSmuggle("GET {P}/a b HTTP/1.1", "Host: smuggle.test"), want: reject},
		smuggleCase{name: "line/nul-in-target", raw: getThenSmuggle("GET {P}\x00 HTTP/1.1", "Host: smuggle.test"), want: reject},
		smuggleCase{name: "line/lowercase-version", raw: getThenSmuggle("GET {P} http/1.1", "Host: smuggle.test"), want: reject},
		smuggleCase{name: "line/version-junk", raw: getThenSmuggle("GET {P} HTTP/1.1x", "Host: smuggle.test"), want: reject},
		smuggleCase{name: "line/http09", raw: "GET {P}\r\n" + smuggled, want: reject},
		smuggleCase{name: "line/http2-over-h1", raw: getThenSmuggle("GET {P} HTTP/2.0", "Host: smuggle.test"), want: reject, codes: []int{400, 505}},
		smuggleCase{name: "line/http3-over-h1", raw: getThenSmuggle("GET {P} HTTP/3.0", "Host: smuggle.test"), want: reject, codes: []int{400, 505}},
		smuggleCase{name: "line/bad-method-char", raw: getThenSmuggle("G(T {P} HTTP/1.1", "Host: smuggle.test"), want: reject, codes: codes400or501},
		// RFC 9112 §2.2: a server SHOULD ignore at least one empty line
		// received before the request-line.
		smuggleCase{name: "line/leading-empty-line", raw: "\r\nGET {P} HTTP/1.1\r\nHost: smuggle.test\r\n\r\n", want: either, body: ""},
		// RFC 9112 §3.2.2: with an absolute-form target the Host field is
		// ignored; the backend must see the target's authority.
		smuggleCase{name: "line/absolute-form-other-host", raw: "GET http://other.test{P} HTTP/1.1\r\nHost: smuggle.test\r\n\r\n", want: either, body: "",
			check: func(r edgetest.Request) string {
				if h := r.Get("Host"); h != "other.test" {
					return fmt.Sprintf("absolute-form target names other.test but the backend got Host %q", h)
				}
				return ""
			}},
	)
	return cases
}

// TestH1Smuggling sends every framing on its own raw connection, one at a
// time, and checks what the client got and what the backend received
// during that case: a rejected framing is answered 400 (or the case's
// alternative code) and the connection closed with nothing forwarded; an
// accepted one reaches the backend exactly once with its whole body. The
// backend must never receive /SMUGGLED, two requests on one upstream
// connection for one client request, a cut body, or bytes it cannot parse.
func TestH1Smuggling(t *testing.T) {
	t.Parallel()
	be := edgetest.NewBackend(t, edgetest.WithName("app"), edgetest.WithBodyTimeout(20*time.Second))
	p := edgetest.Start(t, map[string]string{"app.yaml": edgetest.Join(
		edgetest.IngressClass(),
		edgetest.Service("app", be.Addr()),
		edgetest.Ingress("app", "", edgetest.Path{Path: "/", Service: "app"}),
	)})
	cases := smugglingCases()
	if len(cases) < 60 {
		t.Fatalf("only %d smuggling cases; the suite promises at least 60", len(cases))
	}
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("duplicate case name %q", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			p.CheckAlive(t)
			path := "/s/" + strings.NewReplacer("/", "-", "_", "-").Replace(c.name)
			raw := strings.ReplaceAll(c.raw, "{P}", path)
			mark := be.Mark()
			res, err := edgetest.Exchange(p.HTTPAddr, raw, 800*time.Millisecond)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			// Anything Portico forwards for this case has been sent by now;
			// give the backend a moment to record it.
			time.Sleep(50 * time.Millisecond)
			reqs := be.Since(mark)
			if problems := judgeSmuggle(c, path, res, reqs); len(problems) > 0 {
				t.Errorf("sent %s\n  want: %s\n  got: %s\n  backend received %d request(s):%s\n  problems:\n    - %s",
					quote(raw), c.want, res, len(reqs), listRequests(reqs), strings.Join(problems, "\n    - "))
			}
		})
	}
	p.CheckAlive(t)
	for _, r := range be.Requests() {
		if strings.Contains(r.Target, "SMUGGLED") {
			t.Errorf("over the whole run the backend received a smuggled request: %s", r)
		}
	}
}

func judgeSmuggle(c smuggleCase, path string, res edgetest.Result, reqs []edgetest.Request) []string {
	var problems []string
	perConn := map[int]int{}
	for _, r := range reqs {
		perConn[r.Conn]++
		switch {
		case strings.Contains(r.Target, "SMUGGLED"):
			problems = append(problems, "the backend received the smuggled request "+strconv.Quote(r.Method+" "+r.Target))
		case r.Err != "":
			problems = append(problems, "the backend received a malformed, ambiguous or cut request: "+r.Err)
		case !r.Complete:
			problems = append(problems, "the backend's request body is incomplete (cut, or Portico holds the upstream connection)")
		}
	}
	for conn, n := range perConn {
		if n > 1 {
			problems = append(problems, fmt.Sprintf("the backend received %d requests on upstream connection #%d for one client request", n, conn))
		}
	}
	codes := c.codes
	if len(codes) == 0 {
		codes = []int{400}
	}
	first := res.First()
	rejectChecks := func() {
		switch {
		case first == nil:
			problems = append(problems, fmt.Sprintf("no response; want %v", codes))
		case !slices.Contains(codes, first.Status):
			problems = append(problems, fmt.Sprintf("status %d; want %v", first.Status, codes))
		}
		if len(res.Responses) > 1 {
			problems = append(problems, fmt.Sprintf("%d responses %v for one request", len(res.Responses), res.Codes()))
		}
		if !res.Closed {
			problems = append(problems, "Portico left the client connection open; after this framing it must close it (RFC 9112 §6.1, §6.3)")
		}
		if len(reqs) > 0 {
			problems = append(problems, fmt.Sprintf("the backend received %d request(s) for a framing that must be rejected", len(reqs)))
		}
	}
	acceptChecks := func() {
		if first == nil || first.Status != 200 || len(res.Responses) != 1 {
			problems = append(problems, fmt.Sprintf("responses %v; want exactly one 200", res.Codes()))
		}
		if len(reqs) != 1 {
			problems = append(problems, fmt.Sprintf("the backend received %d requests; want exactly one", len(reqs)))
			return
		}
		r := reqs[0]
		if r.Path() != path {
			problems = append(problems, fmt.Sprintf("the backend got path %q; want %q", r.Path(), path))
		}
		if r.Complete && string(r.Body) != c.body {
			problems = append(problems, fmt.Sprintf("the backend got body %q; want %q", r.Body, c.body))
		}
		if c.check != nil {
			if msg := c.check(r); msg != "" {
				problems = append(problems, msg)
			}
		}
	}
	switch c.want {
	case reject:
		rejectChecks()
	case accept:
		acceptChecks()
	case either:
		if first != nil && first.Status == 200 {
			acceptChecks()
		} else {
			rejectChecks()
		}
	}
	return problems
}

// quote shows raw bytes in Go syntax, cut to a readable length.
func quote(raw string) string {
	const max = 700
	if len(raw) > max {
		return strconv.Quote(raw[:max]) + fmt.Sprintf("…(%d bytes in all)", len(raw))
	}
	return strconv.Quote(raw)
}

func listRequests(reqs []edgetest.Request) string {
	if len(reqs) == 0 {
		return " none"
	}
	var b strings.Builder
	for _, r := range reqs {
		b.WriteString("\n      " + r.String())
	}
	return b.String()
}
