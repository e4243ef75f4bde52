//go:build edge

package edge

// Shared setup of the HTTP/2 attack tests (h2_*_test.go).
//
// Every attack runs against a Portico started for the test, on two targets:
//
//   - "h2c": the HTTP port, HTTP/2 with prior knowledge (RFC 9113 §3.3), and
//   - "tls": the HTTPS port, h2 by ALPN, SNI and :authority
//     secure.example.com, whose certificate comes from a Secret (the test-only
//     key of examples/tls).
//
// All paths of every host go to one backend (edgetest.H2Backend), which counts
// requests by their first path segment: attack requests use /attack/...,
// the normal client /normal. While an attack runs:
//
//   - a normal client (net/http, HTTP/2, its own connection) requests
//     /normal on the same port every 25 ms, and every one of its requests
//     must succeed (200 from the backend);
//   - Portico's RSS, sampled every 50 ms from /proc, must stay under
//     h2MaxRSS;
//   - after the attacker's connection is gone, Portico's open file
//     descriptors must return to their count before the attack (plus the
//     upstream keep-alive connections the backend sees open, which are the
//     pool's, and a little slack).

import (
	"os"
	"testing"
	"time"

	"github.com/portico-dev/portico/edge/edgetest"
)

const (
	// h2MaxRSS bounds Portico's resident memory during any attack. Portico
	// idles at a few tens of MiB; an attack that gets it to 300 MiB is one
	// a few attackers can turn into an OOM kill.
	h2MaxRSS = 300 << 20
	// h2TLSHost is the TLS host, whose certificate (from a Secret) is the
	// one of examples/tls.
	h2TLSHost = "secure.example.com"
	// h2FDSlack is how many more descriptors than before an attack are
	// tolerated once it is over (besides upstream keep-alive connections).
	h2FDSlack = 3
)

// h2Env is a Portico with the h2 test routes and its backend.
type h2Env struct {
	p  *edgetest.Portico
	be *edgetest.H2Backend
}

func startH2Env(t *testing.T, extraArgs ...string) *h2Env {
	t.Helper()
	secret, err := os.ReadFile("../examples/tls/secret.yaml")
	if err != nil {
		t.Fatalf("reading the example TLS Secret: %v", err)
	}
	be := edgetest.NewH2Backend(t)
	p := edgetest.Start(t, edgetest.H2Manifests(be, h2TLSHost, string(secret)), extraArgs...)
	e := &h2Env{p: p, be: be}
	// Both targets must serve a normal request before any attack.
	for _, tg := range e.targets() {
		waitH2Serving(t, tg)
	}
	return e
}

func (e *h2Env) targets() []edgetest.H2Target {
	return []edgetest.H2Target{
		{Name: "h2c", Addr: e.p.HTTPAddr, Authority: "h2c.example.com"},
		{Name: "tls", Addr: e.p.HTTPSAddr, TLS: true, Authority: h2TLSHost},
	}
}

// waitH2Serving waits (up to 10 s, the routes load asynchronously) until a
// normal HTTP/2 request to tg reaches the backend.
func waitH2Serving(t *testing.T, tg edgetest.H2Target) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pr := edgetest.StartH2Prober(t, tg, "/normal", time.Hour)
		time.Sleep(50 * time.Millisecond)
		for i := 0; i < 20; i++ {
			if ok, _, _, _ := pr.Result(); ok > 0 {
				pr.Stop()
				return
			}
			time.Sleep(25 * time.Millisecond)
		}
		pr.Stop()
		ok, failed, first, _ := pr.Result()
		if time.Now().After(deadline) {
			t.Fatalf("%s: Portico does not serve a normal HTTP/2 request on %s after 10 s (%d ok, %d failed: %v)", tg.Name, tg.Addr, ok, failed, first)
		}
	}
}

// h2Watch is what an attack function gets from h2Attack.
type h2Watch struct {
	rss     *edgetest.H2RSSWatch
	closers []func()
}

// closeAfter registers fn to run when the attack is over, before the
// descriptor check (typically: close the attacker's connections).
func (w *h2Watch) closeAfter(fn func()) { w.closers = append(w.closers, fn) }

// maxRSS is the largest RSS of Portico seen so far.
func (w *h2Watch) maxRSS() int64 { return w.rss.Max() }

// h2Attack runs attack against tg with the normal client, the RSS watch and
// the descriptor check around it.
func h2Attack(t *testing.T, e *h2Env, tg edgetest.H2Target, attack func(t *testing.T, w *h2Watch)) {
	t.Helper()
	h2AttackAll(t, e, []edgetest.H2Target{tg}, attack)
}

// h2AttackAll is h2Attack for an attack on several targets at once: there
// is a normal client on each.
func h2AttackAll(t *testing.T, e *h2Env, tgs []edgetest.H2Target, attack func(t *testing.T, w *h2Watch)) {
	t.Helper()
	const h2MinProbe = 500 * time.Millisecond
	name := tgs[0].Name
	if len(tgs) > 1 {
		name = "all ports"
	}
	fd0 := e.p.FDs()
	up0 := e.be.OpenConns()
	rss0 := e.p.RSS()
	w := &h2Watch{rss: edgetest.H2WatchRSS(e.p.RSS, 50*time.Millisecond)}
	var probers []*edgetest.H2Prober
	for _, tg := range tgs {
		probers = append(probers, edgetest.StartH2Prober(t, tg, "/normal", 25*time.Millisecond))
	}
	start := time.Now()

	attack(t, w)
	// An attack cut short by Portico (its connection closed at once) still
	// leaves the normal client time to show it is served.
	if d := time.Since(start); d < h2MinProbe {
		time.Sleep(h2MinProbe - d)
	}

	for _, pr := range probers {
		pr.Stop()
	}
	for _, fn := range w.closers {
		fn()
	}
	maxRSS := w.rss.Stop()
	e.p.CheckAlive(t)
	t.Logf("%s: attack took %v; Portico RSS %s before, max %s during", name, time.Since(start).Round(time.Millisecond), edgetest.H2MiB(rss0), edgetest.H2MiB(maxRSS))
	for _, pr := range probers {
		ok, failed, first, maxLat := pr.Result()
		t.Logf("%s: normal client: %d ok / %d failed (slowest %v)", pr.Target.Name, ok, failed, maxLat.Round(time.Millisecond))
		if failed > 0 || ok == 0 {
			t.Errorf("%s: the normal client's requests for /normal (its own HTTP/2 connection, same port) must all succeed during the attack: %d ok, %d failed; first failures: %v",
				pr.Target.Name, ok, failed, first)
		}
	}
	if maxRSS > h2MaxRSS {
		t.Errorf("%s: Portico's RSS reached %s during the attack (before: %s); the bound is %s",
			name, edgetest.H2MiB(maxRSS), edgetest.H2MiB(rss0), edgetest.H2MiB(h2MaxRSS))
	}
	// Descriptors: back to where they were, give or take the upstream pool.
	deadline := time.Now().Add(5 * time.Second)
	var fds, allowed int
	for {
		fds = e.p.FDs()
		allowed = fd0 + int(max(0, e.be.OpenConns()-up0)) + h2FDSlack
		if fds <= allowed || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if fds > allowed {
		t.Errorf("%s: 5 s after the attacker's connections were closed Portico holds %d file descriptors; before the attack it held %d, and the backend sees %d upstream connections open (%d before): descriptors leak",
			name, fds, fd0, e.be.OpenConns(), up0)
	}
}

// settleCount waits until the backend's count for seg has not changed for
// quiet (at most max), and returns it.
func settleCount(be *edgetest.H2Backend, seg string, quiet, max time.Duration) int {
	deadline := time.Now().Add(max)
	last, since := be.Count(seg), time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		if n := be.Count(seg); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= quiet {
			break
		}
	}
	return last
}

// waitClosed waits up to d for the server to end c (GOAWAY or close).
func waitClosed(c *edgetest.H2Conn, d time.Duration) bool {
	return c.Drain(d)
}
