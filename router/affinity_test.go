package router

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// sessionTarget sends one request with the session cookie (or header)
// given and returns which backend answered and the token sent back.
func sessionTarget(t *testing.T, v frontVariant, path, cookie, header string) (string, string, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", v.url+path, nil)
	if cookie != "" {
		req.Header.Set("Cookie", "other=1; portico-session="+cookie)
	}
	if header != "" {
		req.Header.Set("X-Session", header)
	}
	resp, err := v.client.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", v.name, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sc := resp.Header.Get("Set-Cookie")
	tok, _, _ := strings.Cut(strings.TrimPrefix(sc, "portico-session="), ";")
	if header != "" || strings.HasPrefix(path, "/header") {
		tok = resp.Header.Get("X-Session")
	}
	return string(b), tok, sc
}

func sessionBackends(t *testing.T, n int) *Backend {
	b := &Backend{Name: "ns/app:80"}
	for i := range n {
		b.Endpoints = append(b.Endpoints, Endpoint{addr(backendServer(t, "app"+string(rune('0'+i))))})
	}
	return b
}

func TestSessionPersistenceCookie(t *testing.T) {
	b := sessionBackends(t, 3)
	cookie := &SessionCookie{Path: "/app", MaxAge: time.Hour, Expires: time.Hour, SameSite: "Lax", Secure: true, HTTPOnly: true}
	route := func(path string, s *SessionPersistence) Route {
		return Route{Path: path, Backends: []WeightedBackend{{Backend: b, Weight: 1}}, Session: s}
	}
	cfg := Config{Routes: []Route{route("/app", &SessionPersistence{Cookie: cookie}),
		route("/header", &SessionPersistence{Header: "X-Session"}),
		route("/balanced", &SessionPersistence{Cookie: &SessionCookie{}, Mode: SessionBalanced})}}
	for _, v := range frontVariants(t, cfg) {
		first, tok, sc := sessionTarget(t, v, "/app", "", "")
		for _, attr := range []string{"; Path=/app", "; Max-Age=3600", "; Expires=", "; HttpOnly", "; Secure", "; SameSite=Lax"} {
			if !strings.Contains(sc, attr) {
				t.Errorf("%s: Set-Cookie %q lacks %q", v.name, sc, attr)
			}
		}
		if tok == "" || strings.Contains(tok, "127.0.0.1") || strings.Contains(sc, ":") && !strings.Contains(sc, "Expires") {
			t.Fatalf("%s: token %q", v.name, tok)
		}
		for range 6 {
			got, again, _ := sessionTarget(t, v, "/app", tok, "")
			if got != first || again != "" {
				t.Fatalf("%s: session moved from %s to %s (new token %q)", v.name, first, got, again)
			}
		}
		// A token of no endpoint: balanced as usual, and a new one.
		if _, fresh, _ := sessionTarget(t, v, "/app", "0123456789abcdef01234567", ""); fresh == "" {
			t.Errorf("%s: an unknown token got no new one", v.name)
		}
		// By header.
		hfirst, htok, _ := sessionTarget(t, v, "/header", "", "")
		for range 4 {
			if got, _, _ := sessionTarget(t, v, "/header", "", htok); got != hfirst {
				t.Fatalf("%s: header session moved from %s to %s", v.name, hfirst, got)
			}
		}
		// Balanced: the key leads to the endpoint that answered first.
		bfirst, btok, _ := sessionTarget(t, v, "/balanced", "", "")
		for range 4 {
			if got, again, _ := sessionTarget(t, v, "/balanced", btok, ""); got != bfirst || again != "" {
				t.Fatalf("%s: balanced session moved from %s to %s", v.name, bfirst, got)
			}
		}
	}
}

// sessionToken is the Persistent token of an endpoint of b.
func sessionToken(b *Backend, i int) string {
	sum := sha256.Sum256([]byte(b.Name + "\x00" + b.Endpoints[i].Address))
	return hex.EncodeToString(sum[:12])
}

// TestSessionPersistenceFailover: a session whose endpoint is gone goes
// elsewhere and gets a new token; a dead endpoint is retried on another
// (and the session moved) only with ChangeOnFailure.
func TestSessionPersistenceFailover(t *testing.T) {
	b := sessionBackends(t, 2)
	withDead := &Backend{Name: b.Name, Endpoints: append([]Endpoint{{deadAddr(t)}}, b.Endpoints...)}
	cfg := Config{Routes: []Route{
		{Path: "/stay", Backends: []WeightedBackend{{Backend: withDead, Weight: 1}}, Session: &SessionPersistence{Cookie: &SessionCookie{}}},
		{Path: "/move", Backends: []WeightedBackend{{Backend: withDead, Weight: 1}}, Retry: &Retry{Attempts: 1},
			Session: &SessionPersistence{Cookie: &SessionCookie{}, ChangeOnFailure: true}},
	}}
	dead := sessionToken(withDead, 0)
	for _, v := range frontVariants(t, cfg) {
		req, _ := http.NewRequest("GET", v.url+"/stay", nil)
		req.Header.Set("Cookie", "portico-session="+dead)
		resp, err := v.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 502 {
			t.Errorf("%s: without ChangeOnFailure a dead session endpoint answered %d, want 502", v.name, resp.StatusCode)
		}
		got, tok, _ := sessionTarget(t, v, "/move", dead, "")
		if !strings.HasPrefix(got, "app") || tok == "" || tok == dead {
			t.Errorf("%s: ChangeOnFailure: served by %q, new token %q", v.name, got, tok)
		}
		if again, _, _ := sessionTarget(t, v, "/move", tok, ""); again != got {
			t.Errorf("%s: moved session went to %s, then %s", v.name, got, again)
		}
	}
	// The endpoint gone from the table: its sessions go elsewhere.
	rt := New(Options{})
	rt.Swap(Compile(Config{Routes: []Route{{Path: "/", Backends: []WeightedBackend{{Backend: b, Weight: 1}},
		Session: &SessionPersistence{Cookie: &SessionCookie{}}}}}))
	front := serveEdge(t, rt)
	v := frontVariant{"fast/h1", front.URL, http.DefaultClient, 1}
	if got, tok, _ := sessionTarget(t, v, "/", dead, ""); !strings.HasPrefix(got, "app") || tok == "" {
		t.Errorf("gone endpoint: served by %q, new token %q", got, tok)
	}
}

func TestSessionPersistenceCheck(t *testing.T) {
	for _, s := range []SessionPersistence{{}, {Cookie: &SessionCookie{}, Header: "X"}, {Header: "X", Mode: "Sticky"},
		{Cookie: &SessionCookie{SameSite: "lax"}}, {Cookie: &SessionCookie{Name: "a;b"}}} {
		if s.Check() == nil {
			t.Errorf("%+v: no error", s)
		}
	}
	if err := (&SessionPersistence{Cookie: &SessionCookie{Name: "route", SameSite: "None"}}).Check(); err != nil {
		t.Error(err)
	}
}
