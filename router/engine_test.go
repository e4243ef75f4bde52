package router

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// testEngine is the HTTP/1.x engine the router's tests serve with:
// PORTICO_HTTP1_ENGINE=std runs every test that serves through
// serveTable on net/http instead of the fast engine (make test does
// both).
var testEngine = func() Engine {
	e, err := ParseEngine(os.Getenv("PORTICO_HTTP1_ENGINE"))
	if err != nil {
		panic(err)
	}
	return e
}()

// serveEdge serves rt on a loopback port the way Portico's listeners do
// (ServeListener: framing checker, edge limits, the configured engine)
// and returns a stand-in httptest.Server for its URL.
func serveEdge(t *testing.T, rt *Router) *httptest.Server {
	t.Helper()
	a := startStrict(t, rt)
	ln := fakeListener{addr: a}
	return &httptest.Server{URL: "http://" + a, Listener: ln, Config: &http.Server{}}
}

// fakeListener stands for a listener ServeListener owns.
type fakeListener struct{ addr string }

func (fakeListener) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (fakeListener) Close() error              { return nil }
func (l fakeListener) Addr() net.Addr {
	a, _ := net.ResolveTCPAddr("tcp", l.addr)
	return a
}

// TestHandoffKeepsConnection: a request only net/http serves (here the
// ACME responder) moves its connection to net/http, which answers it and
// the requests that follow on that connection.
func TestHandoffKeepsConnection(t *testing.T) {
	be := backendServer(t, "app")
	opts := Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
			_, _ = io.WriteString(w, "token-"+strings.TrimPrefix(r.URL.Path, "/.well-known/acme-challenge/"))
			return true
		}
		return false
	}}
	_, front := serveTable(t, Config{Routes: []Route{{Path: "/", Backends: []WeightedBackend{{Backend: &Backend{Name: "app", Endpoints: []Endpoint{{addr(be)}}}, Weight: 1}}}}}, opts)
	c, err := net.Dial("tcp", strings.TrimPrefix(front.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i, want := range []string{"app x /before", "token-abc", "app x /after"} {
		path := []string{"/before", "/.well-known/acme-challenge/abc", "/after"}[i]
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if !strings.HasPrefix(string(body), want) {
			t.Fatalf("%s: %q, want %q…", path, body, want)
		}
	}
}
