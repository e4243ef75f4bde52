// Command rateload sends HTTP/1.1 requests at a fixed rate over keep-alive
// connections and prints latency quantiles, for bench/peers.sh's rate mode:
//
//	rateload -addr 127.0.0.1:9303 -host bench.test -rate 20000 -c 64 -d 10s
//
// The schedule is open: request i is due at start + i/rate whatever the
// answers before it did. A pacer woken by a periodic timerfd (the
// kernel's high-resolution timer, not Go's millisecond-grained one) sends
// each due request on an idle connection; when none is idle the request waits
// in a queue and the next connection to finish sends it. Latency is
// measured from the request's due time, not from when it was written, so
// a stall counts for every request it delays (coordinated omission
// corrected, as wrk2). One request is outstanding per connection (no
// pipelining); requests are pre-built, responses parsed in place; answers
// must carry a Content-Length.
//
// It prints the requests due, answered, failed (connection errors),
// answered with a status other than 2xx, never sent (the queue at the
// end: the target did not keep up) and sent but not answered within two
// seconds of the end, then the latency quantiles and how late
// the pacer itself was (the generator's own error; it should stay far
// below the latencies).
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:80", "host:port to connect to")
	host := flag.String("host", "localhost", "Host header")
	path := flag.String("path", "/", "request target")
	rate := flag.Float64("rate", 1000, "requests per second")
	conns := flag.Int("c", 64, "keep-alive connections")
	dur := flag.Duration("d", 10*time.Second, "how long to send")
	flag.Parse()
	if *rate <= 0 || *conns <= 0 || *dur <= 0 {
		fmt.Fprintln(os.Stderr, "rateload: -rate, -c and -d must be positive")
		os.Exit(2)
	}
	g := &gen{req: []byte("GET " + *path + " HTTP/1.1\r\nHost: " + *host + "\r\nUser-Agent: rateload\r\n\r\n"),
		lat: newHist(), late: newHist()}
	for range *conns {
		nc, err := net.DialTimeout("tcp", *addr, 5*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, "rateload:", err)
			os.Exit(1)
		}
		c := newConn(g, nc)
		g.idle = append(g.idle, c)
		go c.readLoop()
	}
	n := int64(*rate * dur.Seconds())
	period := time.Duration(float64(time.Second) / *rate)
	// The start first: the kernel's ticks then come just after each due
	// time, never just before it (which would delay a request by a tick).
	g.start = time.Now()
	tk, err := newTicker(period)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rateload: timer:", err)
		os.Exit(1)
	}
	g.pace(tk, period, n)
	// Let the last answers arrive (bounded: a stalled target leaves them
	// counted as outstanding).
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		g.mu.Lock()
		done := g.answered+g.failed+int64(len(g.pending)-g.head) >= n
		g.mu.Unlock()
		if done {
			break
		}
	}
	g.report(n, *dur)
}

// gen is one run's shared state; mu guards everything but req and start.
type gen struct {
	req   []byte
	start time.Time

	mu       sync.Mutex
	idle     []*conn     // connections with nothing outstanding, LIFO
	pending  []time.Time // due times of requests waiting for a connection; from head on
	head     int
	lat      *hist // due time → whole answer read
	late     *hist // due time → handed to a connection by the pacer
	answered int64
	non2xx   int64
	failed   int64
}

// pace hands out n requests, one due every period from g.start on.
func (g *gen) pace(tk *ticker, period time.Duration, n int64) {
	for i := int64(0); i < n; {
		// Everything due by now: one request per tick, more after a late
		// wake-up.
		due := min(n, int64(time.Since(g.start)/period)+1)
		for ; i < due; i++ {
			g.dispatch(g.start.Add(time.Duration(i) * period))
		}
		if i < n {
			tk.wait()
		}
	}
}

// dispatch gives the request due at due to an idle connection, or queues
// it for the next one to finish.
func (g *gen) dispatch(due time.Time) {
	g.mu.Lock()
	g.late.record(time.Since(due))
	if len(g.idle) == 0 {
		g.pending = append(g.pending, due)
		g.mu.Unlock()
		return
	}
	c := g.idle[len(g.idle)-1]
	g.idle = g.idle[:len(g.idle)-1]
	c.due.Store(due.UnixNano())
	g.mu.Unlock()
	c.send()
}

// done records an answer on c and gives c its next request, if one is
// waiting; else c goes back to the idle stack.
func (g *gen) done(c *conn, now time.Time, due int64, ok bool) {
	g.mu.Lock()
	g.answered++
	if !ok {
		g.non2xx++
	}
	g.lat.record(now.Sub(time.Unix(0, due)))
	if g.head < len(g.pending) {
		c.due.Store(g.pending[g.head].UnixNano())
		g.head++
		if g.head == len(g.pending) {
			g.pending, g.head = g.pending[:0], 0
		}
		g.mu.Unlock()
		c.send()
		return
	}
	c.due.Store(0)
	g.idle = append(g.idle, c)
	g.mu.Unlock()
}

// fail retires c after a connection error; the request outstanding on it,
// if any, counts as failed.
func (g *gen) fail(c *conn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, x := range g.idle {
		if x == c {
			g.idle = append(g.idle[:i], g.idle[i+1:]...)
			break
		}
	}
	if c.due.Swap(0) != 0 {
		g.failed++
	}
}

func (g *gen) report(n int64, d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ms := func(h *hist, q float64) string { return fmt.Sprintf("%.3f", h.quantile(q).Seconds()*1e3) }
	unsent := int64(len(g.pending) - g.head)
	fmt.Printf("requests %d answered %d failed %d non2xx %d unsent %d seconds %.3f unanswered %d\n",
		n, g.answered, g.failed, g.non2xx, unsent, d.Seconds(), n-g.answered-g.failed-unsent)
	fmt.Printf("latency_ms p50 %s p90 %s p99 %s p99.9 %s max %s\n",
		ms(g.lat, .5), ms(g.lat, .9), ms(g.lat, .99), ms(g.lat, .999), ms(g.lat, 1))
	fmt.Printf("pacer_late_ms p50 %s p99 %s p99.9 %s max %s\n",
		ms(g.late, .5), ms(g.late, .99), ms(g.late, .999), ms(g.late, 1))
}
