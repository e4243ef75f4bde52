package router

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func namedServer(t *testing.T, name string, code int) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(code)
		fmt.Fprint(w, name)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestConsistentHashKeepsKeysOnOneEndpoint(t *testing.T) {
	var eps []Endpoint
	for i := range 4 {
		eps = append(eps, Endpoint{addr(namedServer(t, fmt.Sprint("ep", i), 200))})
	}
	be := &Backend{Name: "b", Endpoints: eps, Balancing: &Balancing{Policy: ConsistentHash, HashHeader: "x-user"}}
	_, front := serveTable(t, Config{Routes: []Route{{Host: "a.com", HostMatch: HostExact, Path: "/",
		Backends: []WeightedBackend{{Backend: be, Weight: 1}}}}}, Options{})
	seen := map[string]map[string]bool{}
	for i := range 40 {
		user := fmt.Sprint("u", i%5)
		_, body := get(t, front.URL+"/", "a.com", "x-user", user)
		if seen[user] == nil {
			seen[user] = map[string]bool{}
		}
		seen[user][body] = true
	}
	spread := map[string]bool{}
	for user, bodies := range seen {
		if len(bodies) != 1 {
			t.Errorf("%s went to %v", user, bodies)
		}
		for b := range bodies {
			spread[b] = true
		}
	}
	if len(spread) < 2 {
		t.Errorf("5 keys all on %v", spread)
	}
}

func TestOutlierEjection(t *testing.T) {
	bad, good := namedServer(t, "bad", 503), namedServer(t, "good", 200)
	be := &Backend{Name: "b", Endpoints: []Endpoint{{addr(bad)}, {addr(good)}},
		Balancing: &Balancing{Outlier: &Outlier{ConsecutiveGatewayErrors: 2, BaseEjection: time.Minute, MaxEjectionPercent: 50}}}
	_, front := serveTable(t, Config{Routes: []Route{{Host: "a.com", HostMatch: HostExact, Path: "/",
		Backends: []WeightedBackend{{Backend: be, Weight: 1}}}}}, Options{})
	for range 4 { // round-robin: the bad endpoint fails twice and is ejected
		get(t, front.URL+"/", "a.com")
	}
	for i := range 10 {
		if code, body := get(t, front.URL+"/", "a.com"); code != 200 || body != "good" {
			t.Fatalf("request %d after ejection: %d %q", i, code, body)
		}
	}
}

func TestMaxRequestsOverflow(t *testing.T) {
	release, started := make(chan struct{}), make(chan struct{}, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		fmt.Fprint(w, "slow")
	}))
	defer slow.Close()
	be := &Backend{Name: "b", Endpoints: []Endpoint{{addr(slow)}}, Balancing: &Balancing{MaxRequests: 1}}
	_, front := serveTable(t, Config{Routes: []Route{{Host: "a.com", HostMatch: HostExact, Path: "/",
		Backends: []WeightedBackend{{Backend: be, Weight: 1}}}}}, Options{})
	first := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", front.URL+"/", nil)
		req.Host = "a.com"
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			first <- resp.StatusCode
		}
	}()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("first request never reached the backend")
	}
	if code, body := get(t, front.URL+"/", "a.com"); code != 503 || !strings.Contains(body, "request limit") {
		t.Fatalf("second concurrent request: %d %q", code, body)
	}
	release <- struct{}{}
	if code := <-first; code != 200 {
		t.Fatalf("first request: %d", code)
	}
}
