package router

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// startRedis runs a redis-server (Debian's redis-server package; .ci/run
// installs it) on a free loopback port for the test and returns its
// address and a function stopping it early. Without redis-server the test
// fails: the global limit is never tested against a stand-in.
func startRedis(t testing.TB) (string, func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("this test needs redis-server on PATH (apt-get install redis-server): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	ln.Close()
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(stop)
	eventually(t, "redis-server answers PING", func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		defer c.Close()
		fmt.Fprint(c, "PING\r\n")
		line, _ := bufio.NewReader(c).ReadString('\n')
		return strings.HasPrefix(line, "+PONG")
	})
	return addr, stop
}

// TestPolicyGlobalRateLimit: two routers (two Portico replicas) share one
// limit through a real Redis; together they admit the limit, within 5%
// below it and never above, and wait for Redis about once per key.
func TestPolicyGlobalRateLimit(t *testing.T) {
	addr, _ := startRedis(t)
	b := echoBackend(t)
	const limit = 1000
	scope := fmt.Sprintf("test-%d", time.Now().UnixNano())
	replica := func() (*globalStep, string) {
		p := &Policy{GlobalLimit: &GlobalRateLimit{Requests: limit, Per: time.Hour, Redis: addr, Scope: scope}}
		_, front := serveTable(t, Config{Routes: []Route{policyRoute("/", b, p)}}, Options{})
		c, _ := p.chain()
		return c.steps[0].(*globalStep), front.URL
	}
	s1, url1 := replica()
	s2, url2 := replica()
	var admitted, refused atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := []string{url1, url2}[w%2]
			for i := 0; i < 200; i++ {
				resp, err := http.Get(url + "/x")
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				switch resp.StatusCode {
				case 200:
					admitted.Add(1)
				case 429:
					refused.Add(1)
					if resp.Header.Get("Retry-After") == "" || resp.Header.Get("RateLimit-Limit") != "1000" {
						t.Errorf("429 headers %v", resp.Header)
					}
				default:
					t.Errorf("status %d", resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	if n := admitted.Load(); n > limit || n < limit*95/100 {
		t.Errorf("admitted %d of 1600 with a limit of %d (refused %d)", n, limit, refused.Load())
	}
	calls := s1.calls.Load() + s2.calls.Load()
	t.Logf("admitted %d, refused %d; Redis calls %d, requests that waited %d+%d", admitted.Load(), refused.Load(),
		calls, s1.waits.Load(), s2.waits.Load())
	if calls > 2*limit/20 {
		t.Errorf("%d Redis calls for %d requests", calls, admitted.Load()+refused.Load())
	}
}

// TestPolicyGlobalRateLimitRedisDown: with Redis gone, requests are
// refused with 503 (or admitted with failOpen), promptly.
func TestPolicyGlobalRateLimitRedisDown(t *testing.T) {
	addr, stop := startRedis(t)
	b := echoBackend(t)
	scope := fmt.Sprintf("down-%d", time.Now().UnixNano())
	closed := &Policy{GlobalLimit: &GlobalRateLimit{Requests: 100, Per: time.Hour, Redis: addr, Scope: scope}}
	open := &Policy{GlobalLimit: &GlobalRateLimit{Requests: 100, Per: time.Hour, Redis: addr, Scope: scope + "o", FailOpen: true}}
	_, front := serveTable(t, Config{Routes: []Route{policyRoute("/closed", b, closed), policyRoute("/open", b, open)}}, Options{})
	runPolicyCases(t, front.URL, []policyCase{
		{name: "up: closed", path: "/closed", code: 200},
		{name: "up: open", path: "/open", code: 200},
	})
	stop()
	// The tokens leased before the outage are served; then Redis is
	// needed again and is not there.
	for _, p := range []*Policy{closed, open} {
		c, _ := p.chain()
		s := c.steps[0].(*globalStep)
		for _, k := range s.keys {
			k.mu.Lock()
			k.tokens = 0
			k.mu.Unlock()
		}
	}
	runPolicyCases(t, front.URL, []policyCase{
		{name: "down: refused", path: "/closed", code: 503, want: map[string]string{"Retry-After": "1"}},
		{name: "down: failOpen admits", path: "/open", code: 200},
	})
	if err := (&Policy{GlobalLimit: &GlobalRateLimit{Requests: 1, Per: time.Second, Redis: "nowhere", Scope: "x"}}).Check(); err == nil ||
		!strings.Contains(err.Error(), "rateLimit.global.redis") {
		t.Errorf("bad address: %v", err)
	}
}

// BenchmarkPolicyGlobalRateLimit is the global limit's check on the
// request view with a real Redis behind it: most requests are served
// from the lease, one in 20 starts a lease fetched ahead.
func BenchmarkPolicyGlobalRateLimit(b *testing.B) {
	addr, _ := startRedis(b)
	s, err := compileGlobalLimit(&GlobalRateLimit{Requests: 1 << 30, Per: time.Hour, Redis: addr,
		Scope: fmt.Sprintf("bench-%d", time.Now().UnixNano())})
	if err != nil {
		b.Fatal(err)
	}
	x := &Exchange{Method: "GET", Header: http.Header{}}
	resp := http.Header{}
	var ps policyState
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if code, _ := s.check(b.Context(), x, resp, &ps); code != 0 {
			b.Fatal(code)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(s.calls.Load())/float64(b.N), "redis-calls/op")
	b.ReportMetric(float64(s.waits.Load())/float64(b.N), "waits/op")
}
