package router

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPathModifier(t *testing.T) {
	cases := []struct {
		prefix, value, path, want string
		replacePrefix             bool
	}{
		{"/prefix/one", "/one", "/prefix/one/two", "/one/two", true},
		{"/prefix/one", "/one", "/prefix/one", "/one", true},
		{"/prefix/one", "/one", "/prefix/one/", "/one/", true},
		{"/strip-prefix", "/", "/strip-prefix/three", "/three", true},
		{"/strip-prefix", "/", "/strip-prefix", "/", true},
		{"/strip-prefix/", "/", "/strip-prefix/", "/", true},
		{"/old", "/new/", "/old/a/b", "/new/a/b", true},
		{"/", "/api", "/x", "/api/x", true},
		{"/full", "/replaced", "/full/path", "/replaced", false},
	}
	for _, c := range cases {
		m := &PathModifier{ReplacePrefix: c.replacePrefix, Value: c.value}
		if got := m.modifyPath(c.path, c.prefix, nil); got != c.want {
			t.Errorf("prefix %s -> %s on %s: %s, want %s", c.prefix, c.value, c.path, got, c.want)
		}
	}
}

func TestRedirectFilter(t *testing.T) {
	route := func(path string, pm PathMatch, port int32, rd Redirect) Route {
		return Route{Path: path, PathMatch: pm, Listener: "gw", ListenerPort: port, Redirect: &rd}
	}
	tab := Compile(Config{Routes: []Route{
		route("/scheme", PathPrefix, 80, Redirect{Scheme: "https", StatusCode: 301}),
		route("/port", PathPrefix, 80, Redirect{Port: 8443, StatusCode: 302}),
		route("/listener", PathPrefix, 8080, Redirect{Hostname: "new.example.com", StatusCode: 307}),
		route("/prefix", PathPrefix, 80, Redirect{Path: &PathModifier{ReplacePrefix: true, Value: "/replacement"}, StatusCode: 308}),
		route("/full", PathPrefix, 80, Redirect{Path: &PathModifier{Value: "/else"}, StatusCode: 303}),
	}})
	rt := New(Options{})
	rt.Swap(tab)
	h := rt.Listener("gw")
	cases := []struct {
		target   string
		tls      bool
		code     int
		location string
	}{
		{"http://example.com:31000/scheme/x?q=1", false, 301, "https://example.com/scheme/x?q=1"},
		{"http://example.com/port", false, 302, "http://example.com:8443/port"},
		{"http://example.com/listener/a", false, 307, "http://new.example.com:8080/listener/a"},
		{"http://example.com/prefix/lemon", false, 308, "http://example.com/replacement/lemon"},
		{"http://example.com/full/x", false, 303, "http://example.com/else"},
		{"https://example.com/port", true, 302, "https://example.com:8443/port"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", c.target, nil)
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.code || w.Header().Get("Location") != c.location {
			t.Errorf("%s: %d %q, want %d %q", c.target, w.Code, w.Header().Get("Location"), c.code, c.location)
		}
	}
}

func TestHeaderAndRewriteFilters(t *testing.T) {
	var seen *http.Request
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Clone(r.Context())
		w.Header().Set("X-Backend-Secret", "1")
		w.Header().Set("Cache-Control", "public")
	}))
	defer be.Close()
	bk := &Backend{Name: "b", Endpoints: []Endpoint{{addr(be)}}}
	_, front := serveTable(t, Config{Routes: []Route{{
		Path: "/api/v1", Backends: []WeightedBackend{{Backend: bk, Weight: 1}},
		RequestHeaders:  &HeaderOps{Set: []Header{{"X-Env", "prod"}}, Add: []Header{{"X-Added", "1"}}, Remove: []string{"x-internal"}},
		ResponseHeaders: &HeaderOps{Set: []Header{{"Cache-Control", "no-store"}}, Remove: []string{"X-Backend-Secret"}},
		Rewrite:         &Rewrite{Hostname: "internal.example.com", Path: &PathModifier{ReplacePrefix: true, Value: "/v1"}},
	}}}, Options{})
	req, _ := http.NewRequest("GET", front.URL+"/api/v1/users?x=1", nil)
	req.Host = "public.example.com"
	req.Header.Set("X-Env", "dev")
	req.Header.Add("X-Added", "0")
	req.Header.Set("X-Internal", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if seen.Host != "internal.example.com" || seen.URL.RequestURI() != "/v1/users?x=1" {
		t.Errorf("forwarded %s %s", seen.Host, seen.URL.RequestURI())
	}
	if seen.Header.Get("X-Env") != "prod" || strings.Join(seen.Header.Values("X-Added"), ",") != "0,1" || seen.Header.Get("X-Internal") != "" {
		t.Errorf("request headers %v", seen.Header)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("X-Backend-Secret") != "" {
		t.Errorf("response headers %v", resp.Header)
	}
}

func TestRouteTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	bk := &Backend{Name: "slow", Endpoints: []Endpoint{{addr(slow)}}}
	_, front := serveTable(t, Config{Routes: []Route{{Path: "/", Backends: []WeightedBackend{{Backend: bk, Weight: 1}}, Timeout: 100 * time.Millisecond}}}, Options{})
	if code, _ := get(t, front.URL, "x"); code != http.StatusGatewayTimeout {
		t.Fatalf("code %d, want 504", code)
	}
}

func TestMirror(t *testing.T) {
	main := backendServer(t, "main")
	got := make(chan string, 500)
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r.Method + " " + r.URL.Path + " " + string(b)
	}))
	defer mirror.Close()
	mb := &Backend{Name: "mirror", Endpoints: []Endpoint{{addr(mirror)}}}
	bk := &Backend{Name: "main", Endpoints: []Endpoint{{addr(main)}}}
	_, front := serveTable(t, Config{Routes: []Route{
		{Path: "/all", Backends: []WeightedBackend{{Backend: bk, Weight: 1}}, Mirrors: []Mirror{{Backend: mb, Fraction: 1}}},
		{Path: "/half", Backends: []WeightedBackend{{Backend: bk, Weight: 1}}, Mirrors: []Mirror{{Backend: mb, Fraction: 0.5}}},
	}}, Options{})
	resp, err := http.Post(front.URL+"/all", "text/plain", strings.NewReader("payload"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), "main ") {
		t.Fatalf("client got %q", body)
	}
	select {
	case m := <-got:
		if m != "POST /all payload" {
			t.Fatalf("mirror got %q", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("request not mirrored")
	}
	for i := 0; i < 200; i++ {
		get(t, front.URL+"/half", "x")
	}
	// Mirrors are asynchronous: count until none has come for a while.
	n := 0
	for quiet := false; !quiet; {
		select {
		case <-got:
			n++
		case <-time.After(500 * time.Millisecond):
			quiet = true
		}
	}
	if n < 60 || n > 140 {
		t.Fatalf("fraction 0.5 mirrored %d of 200", n)
	}
}

func TestRetry(t *testing.T) {
	var calls atomic.Int32
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1)%3 != 0 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer flaky.Close()
	bk := &Backend{Name: "flaky", Endpoints: []Endpoint{{addr(flaky)}}}
	_, front := serveTable(t, Config{Routes: []Route{
		{Path: "/retried", Backends: []WeightedBackend{{Backend: bk, Weight: 1}}, Retry: &Retry{Attempts: 2, Codes: []int{503}, Backoff: time.Millisecond}},
		{Path: "/once", Backends: []WeightedBackend{{Backend: bk, Weight: 1}}, Retry: &Retry{Attempts: 1, Codes: []int{503}}},
	}}, Options{})
	calls.Store(0)
	if code, body := get(t, front.URL+"/retried", "x"); code != 200 || body != "ok" || calls.Load() != 3 {
		t.Fatalf("with 2 retries: %d %q after %d calls", code, body, calls.Load())
	}
	calls.Store(0)
	if code, _ := get(t, front.URL+"/once", "x"); code != 503 || calls.Load() != 2 {
		t.Fatalf("with 1 retry: %d after %d calls", code, calls.Load())
	}
}

func TestBackendTimeoutRetriesElsewhere(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	fast := backendServer(t, "fast")
	bk := &Backend{Name: "b", Endpoints: []Endpoint{{addr(slow)}, {addr(fast)}}}
	_, front := serveTable(t, Config{Routes: []Route{{Path: "/", Backends: []WeightedBackend{{Backend: bk, Weight: 1}},
		BackendTimeout: 100 * time.Millisecond, Retry: &Retry{Attempts: 1}}}}, Options{})
	for i := 0; i < 4; i++ {
		if code, body := get(t, front.URL, "x"); code != 200 || !strings.HasPrefix(body, "fast") {
			t.Fatalf("attempt %d: %d %q", i, code, body)
		}
	}
}

func TestPerBackendHeaderFilters(t *testing.T) {
	echo := func(name string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, name+" "+r.Header.Get("X-Backend-Hint"))
		}))
		t.Cleanup(s.Close)
		return s
	}
	a, b := echo("a"), echo("b")
	_, front := serveTable(t, Config{Routes: []Route{{Path: "/", Backends: []WeightedBackend{
		{Backend: &Backend{Name: "a", Endpoints: []Endpoint{{addr(a)}}}, Weight: 1,
			RequestHeaders: &HeaderOps{Set: []Header{{"X-Backend-Hint", "for-a"}}}, ResponseHeaders: &HeaderOps{Set: []Header{{"X-Served-By", "a"}}}},
		{Backend: &Backend{Name: "b", Endpoints: []Endpoint{{addr(b)}}}, Weight: 1},
	}}}}, Options{})
	seen := map[string]bool{}
	for i := 0; i < 60; i++ {
		resp, err := http.Get(front.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch string(body) {
		case "a for-a":
			if resp.Header.Get("X-Served-By") != "a" {
				t.Fatal("backend a's response filter not applied")
			}
		case "b ":
			if resp.Header.Get("X-Served-By") != "" {
				t.Fatal("backend a's response filter applied to b")
			}
		default:
			t.Fatalf("unexpected %q", body)
		}
		seen[string(body)] = true
	}
	if len(seen) != 2 {
		t.Fatalf("only saw %v", seen)
	}
}
