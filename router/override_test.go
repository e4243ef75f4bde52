package router

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestResponseOverride: backends' answers and Portico's own are
// replaced by status, then class; others pass; on every engine and
// HTTP/2.
func TestResponseOverride(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Etag", `"e"`)
		w.Header().Set("X-Backend", "yes")
		switch strings.TrimPrefix(r.URL.Path, "/plain") {
		case "/404":
			w.WriteHeader(404)
			_, _ = io.WriteString(w, `{"backend":"not found"}`)
		case "/418":
			w.WriteHeader(418)
			_, _ = io.WriteString(w, "teapot")
		case "/big500":
			w.WriteHeader(500)
			_, _ = io.WriteString(w, strings.Repeat("x", 1<<20))
		default:
			_, _ = io.WriteString(w, "ok")
		}
	}))
	t.Cleanup(be.Close)
	bk := &Backend{Name: "b", Endpoints: []Endpoint{{addr(be)}}}
	dead := &Backend{Name: "dead", Endpoints: []Endpoint{{deadAddr(t)}}}
	overrides := []ResponseOverride{
		{Classes: []int{5}, ContentType: "text/html", Body: "<h1>we are sorry</h1>"},
		{Codes: []int{404}, ContentType: "application/json", Body: `{"error":"not here"}`},
		{Codes: []int{502}, StatusCode: 503, Body: "upstream down"},
		{Codes: []int{401}, Body: "who are you"},
	}
	route := func(path string, b *Backend) Route {
		return Route{Path: path, Backends: []WeightedBackend{{Backend: b, Weight: 1}}, ResponseOverrides: overrides,
			Compression: &Compression{}}
	}
	auth := route("/auth", bk)
	auth.Policy = &Policy{BasicAuth: &BasicAuth{Htpasswd: testHtpasswd(t)}}
	cfg := Config{Routes: []Route{route("/", bk), route("/dead", dead), route("/none", nil), auth,
		{Path: "/plain", Backends: []WeightedBackend{{Backend: bk, Weight: 1}}}}}
	cfg.Routes[2].Backends = nil
	cases := []struct {
		path, ct, body string
		code           int
	}{
		{"/ok", "application/json", "ok", 200},
		{"/404", "application/json", `{"error":"not here"}`, 404},
		{"/418", "application/json", "teapot", 418},
		{"/big500", "text/html", "<h1>we are sorry</h1>", 500},
		{"/dead", "text/plain; charset=utf-8", "upstream down", 503},       // Portico's 502, status replaced
		{"/none", "text/html", "<h1>we are sorry</h1>", 503},               // no backend: Portico's 503
		{"/auth", "text/plain; charset=utf-8", "who are you", 401},         // a policy refusal
		{"/plain/404", "application/json", `{"backend":"not found"}`, 404}, // no overrides on the route
	}
	for _, v := range frontVariants(t, cfg) {
		for _, c := range cases {
			resp, err := v.client.Get(v.url + c.path)
			if err != nil {
				t.Fatalf("%s %s: %v", v.name, c.path, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.code || string(b) != c.body || resp.Header.Get("Content-Type") != c.ct {
				t.Errorf("%s %s: %d %q %q, want %d %q %q", v.name, c.path, resp.StatusCode, resp.Header.Get("Content-Type"),
					trim(b), c.code, c.ct, c.body)
			}
			if c.path == "/404" && (resp.Header.Get("Etag") != "" || resp.Header.Get("X-Backend") != "yes") {
				t.Errorf("%s %s: headers %v", v.name, c.path, resp.Header)
			}
			if c.path == "/auth" && resp.Header.Get("Www-Authenticate") == "" {
				t.Errorf("%s %s: the challenge was lost", v.name, c.path)
			}
		}
	}
}

func trim(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}

func TestResponseOverrideCheck(t *testing.T) {
	bad := []ResponseOverride{{Body: "x"}, {Codes: []int{99}}, {Classes: []int{1}}, {Codes: []int{500}, StatusCode: 700}}
	err := CheckResponseOverrides(bad)
	for _, want := range []string{"[0]: name at least one", "[1].codes[0]", "[2].classes[0]", "[3].statusCode"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: want %q", err, want)
		}
	}
	tbl := Compile(Config{Routes: []Route{{Path: "/", ResponseOverrides: bad}}})
	if len(tbl.Dropped()) != 1 {
		t.Errorf("invalid overrides: route not dropped: %v", tbl.Dropped())
	}

}
