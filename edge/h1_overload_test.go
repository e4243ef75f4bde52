//go:build edge

package edge

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-dev/portico/edge/edgetest"
)

// Overload bounds.
const (
	overloadClients = 2000
	slowDelay       = 2 * time.Second
	// fastLatencyLimit: a request to the fast route must not take longer
	// while the slow route is flooded (seconds, not milliseconds: the
	// machine is a shared 2-core box).
	fastLatencyLimit = 5 * time.Second
	// Peak bounds during the flood: each client costs Portico at most a
	// client and an upstream connection; memory stays well under 512 MiB.
	peakRSSLimit = 512 << 20
	peakFDSlack  = 256
	// After the flood, within settleTimeout, the fd count returns to within
	// fdReturnSlack of the baseline (the backends close idle connections
	// after 1s, so Portico's pool does not keep them), and RSS to within
	// rssReturnSlack of the baseline or half of the growth, whichever is
	// larger (the Go runtime returns freed memory to the OS gradually).
	settleTimeout  = 30 * time.Second
	fdReturnSlack  = 32
	rssReturnSlack = 64 << 20
	// goroutineReturnSlack: goroutines after the flood vs the baseline.
	goroutineReturnSlack = 20
)

// TestH1Overload floods a route whose backend answers after 2 s with 2,000
// concurrent clients: a route with a fast backend must stay 100% successful
// and fast, and Portico's RSS and fd count must stay bounded and come back
// near the baseline afterwards.
func TestH1Overload(t *testing.T) {
	slow := edgetest.NewBackend(t, edgetest.WithName("slow"), edgetest.WithDelay(slowDelay), edgetest.WithIdleTimeout(time.Second))
	fast := edgetest.NewBackend(t, edgetest.WithName("fast"), edgetest.WithIdleTimeout(time.Second))
	p := edgetest.Start(t, map[string]string{"app.yaml": edgetest.Join(
		edgetest.IngressClass(),
		edgetest.Service("slow", slow.Addr()),
		edgetest.Service("fast", fast.Addr()),
		edgetest.Ingress("over", "over.test",
			edgetest.Path{Path: "/slow", Service: "slow"},
			edgetest.Path{Path: "/fast", Service: "fast"},
		),
	)})
	get := func(path string, d time.Duration) (*edgetest.Response, error) {
		return edgetest.RoundTrip(p.HTTPAddr, edgetest.Req("GET", path, "over.test", "Connection: close"), d)
	}
	// Warm up both routes, then let idle upstream connections go.
	for _, path := range []string{"/slow/warm", "/fast/warm"} {
		if resp, err := get(path, 10*time.Second); err != nil || resp.Status != 200 {
			t.Fatalf("warm-up GET %s: %v %v", path, resp, err)
		}
	}
	time.Sleep(2 * time.Second)
	baseRSS, baseFDs := p.RSS(), p.FDs()
	if baseRSS <= 0 || baseFDs <= 0 {
		t.Fatalf("cannot read portico's /proc/%d: RSS %d, fds %d", p.PID(), baseRSS, baseFDs)
	}
	baseGoroutines := goroutines(t, p)
	t.Logf("baseline: RSS %.1f MiB, %d fds, %d goroutines", mib(baseRSS), baseFDs, baseGoroutines)

	// Sample RSS and fds every 200ms.
	var peakRSS atomic.Int64
	var peakFDs atomic.Int64
	sampleStop := make(chan struct{})
	sampleDone := make(chan struct{})
	go func() {
		defer close(sampleDone)
		for i := 0; i < 1000; i++ { // bounded: 200 s
			if r := p.RSS(); r > peakRSS.Load() {
				peakRSS.Store(r)
			}
			if f := int64(p.FDs()); f > peakFDs.Load() {
				peakFDs.Store(f)
			}
			select {
			case <-sampleStop:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()

	// The flood.
	type slowResult struct {
		status int
		err    error
	}
	results := make([]slowResult, overloadClients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := get(fmt.Sprintf("/slow/%d", i), 60*time.Second)
			if err != nil {
				results[i].err = err
				return
			}
			results[i].status = resp.Status
		}()
	}
	floodDone := make(chan struct{})
	go func() { wg.Wait(); close(floodDone) }()

	// The fast route alongside, sequentially, until the flood is over.
	var latencies []time.Duration
	var failures []string
	fastTotal := 0
	time.Sleep(300 * time.Millisecond)
fast:
	for fastTotal < 2000 {
		select {
		case <-floodDone:
			break fast
		default:
		}
		fastTotal++
		t0 := time.Now()
		resp, err := get(fmt.Sprintf("/fast/%d", fastTotal), 30*time.Second)
		d := time.Since(t0)
		latencies = append(latencies, d)
		switch {
		case err != nil:
			failures = append(failures, fmt.Sprintf("GET /fast/%d at t=%s: %v", fastTotal, time.Since(start).Round(time.Millisecond), err))
		case resp.Status != 200 || resp.Header.Get("X-Backend") != "fast":
			failures = append(failures, fmt.Sprintf("GET /fast/%d at t=%s: %s", fastTotal, time.Since(start).Round(time.Millisecond), resp))
		case d > fastLatencyLimit:
			failures = append(failures, fmt.Sprintf("GET /fast/%d at t=%s took %s (limit %s)", fastTotal, time.Since(start).Round(time.Millisecond), d.Round(time.Millisecond), fastLatencyLimit))
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case <-floodDone:
	case <-time.After(90 * time.Second):
		t.Errorf("the %d slow clients had not finished after 90 s", overloadClients)
	}
	floodTime := time.Since(start)
	close(sampleStop)
	<-sampleDone
	p.CheckAlive(t)

	codes := map[string]int{}
	for _, r := range results {
		if r.err != nil {
			codes["error"]++
		} else {
			codes[fmt.Sprint(r.status)]++
		}
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	lat := "none"
	if n := len(latencies); n > 0 {
		lat = fmt.Sprintf("median %s, p99 %s, max %s", latencies[n/2].Round(time.Millisecond), latencies[n*99/100].Round(time.Millisecond), latencies[n-1].Round(time.Millisecond))
	}
	t.Logf("flood of %d clients on /slow (backend delay %s) over %s: outcomes %v; fast route %d requests, %s; peak RSS %.1f MiB, peak fds %d",
		overloadClients, slowDelay, floodTime.Round(time.Millisecond), codes, fastTotal, lat, mib(peakRSS.Load()), peakFDs.Load())
	if fastTotal == 0 {
		t.Errorf("no request to the fast route was made during the flood")
	}
	if len(failures) > 0 {
		t.Errorf("the fast route during a flood of %d clients on the slow route: %d of %d requests failed or were slower than %s; want all fine: %s",
			overloadClients, len(failures), fastTotal, fastLatencyLimit, firstN(failures, 8))
	}
	if r := peakRSS.Load(); r > peakRSSLimit {
		t.Errorf("portico's RSS peaked at %.1f MiB during the flood; bound %.0f MiB (baseline %.1f MiB)", mib(r), mib(peakRSSLimit), mib(baseRSS))
	}
	if f := peakFDs.Load(); f > int64(baseFDs+2*overloadClients+peakFDSlack) {
		t.Errorf("portico had %d fds open during the flood; bound %d (baseline %d + a client and an upstream connection per client + %d)",
			f, baseFDs+2*overloadClients+peakFDSlack, baseFDs, peakFDSlack)
	}

	// Back to baseline.
	rssTarget := baseRSS + max(int64(rssReturnSlack), (peakRSS.Load()-baseRSS)/2)
	fdTarget := baseFDs + fdReturnSlack
	settleStart := time.Now()
	var rss int64
	var fds, gr int
	for {
		// Idle server goroutines (the fast engine's worker pool) may take
		// a few seconds to expire: a leak is what outlasts settleTimeout.
		rss, fds, gr = p.RSS(), p.FDs(), goroutines(t, p)
		if rss > peakRSS.Load() {
			peakRSS.Store(rss)
		}
		if rss <= rssTarget && fds <= fdTarget && gr <= baseGoroutines+goroutineReturnSlack {
			break
		}
		if time.Since(settleStart) > settleTimeout {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("after the flood (%s later): RSS %.1f MiB, %d fds, %d goroutines; backend connections open: slow %d, fast %d",
		time.Since(settleStart).Round(time.Millisecond), mib(rss), fds, gr, slow.OpenConns(), fast.OpenConns())
	if gr > baseGoroutines+goroutineReturnSlack {
		t.Errorf("after the flood portico still runs %d goroutines; baseline %d (leak)", gr, baseGoroutines)
	}
	if fds > fdTarget {
		t.Errorf("%s after the flood portico still had %d fds open; baseline %d, want at most %d", settleTimeout, fds, baseFDs, fdTarget)
	}
	if rss > rssTarget {
		t.Errorf("%s after the flood portico's RSS was %.1f MiB; baseline %.1f MiB, peak %.1f MiB, want at most %.1f MiB (memory not returned: "+
			"an idle Go process does not collect until the forced GC every 2 minutes, and the freed heap goes back to the OS gradually after that)",
			settleTimeout, mib(rss), mib(baseRSS), mib(peakRSS.Load()), mib(rssTarget))
	}
	// Portico still serves normally.
	if resp, err := get("/fast/after", 10*time.Second); err != nil || resp.Status != 200 {
		t.Errorf("GET /fast/after the flood: %v %v", resp, err)
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// goroutines reads go_goroutines from portico's /metrics.
func goroutines(t *testing.T, p *edgetest.Portico) int {
	t.Helper()
	for _, line := range strings.Split(p.Metrics(t), "\n") {
		if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("go_goroutines %q: %v", v, err)
			}
			return int(n)
		}
	}
	t.Fatalf("portico's /metrics has no go_goroutines")
	return 0
}
