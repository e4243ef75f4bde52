package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// httpClient sends requests to the proxy by Host header; it never follows
// redirects and keeps connections alive.
var httpClient = &http.Client{Timeout: 5 * time.Second,
	Transport:     &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// fetch returns the status and body of GET / on host through addr.
func fetch(addr, host string) (int, string) {
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	req.Host = host
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b)
}

// waitFor polls until ok returns true and returns the time since t0, or an
// error after limit.
func waitFor(t0 time.Time, limit time.Duration, ok func() bool) (time.Duration, error) {
	for {
		if ok() {
			return time.Since(t0), nil
		}
		if time.Since(t0) > limit {
			return 0, fmt.Errorf("not seen within %v", limit)
		}
		time.Sleep(500 * time.Microsecond)
	}
}

// answers reports whether host answers 200 from backend (body prefix).
func answers(addr, host, backend string) func() bool {
	return func() bool {
		code, body := fetch(addr, host)
		return code == 200 && strings.HasPrefix(body, backend)
	}
}

// load sends requests to random existing hosts until stop is closed (and
// at most for limit), counting those that did not answer 200 from one of
// the backends.
type load struct {
	sent, failed atomic.Int64
	firstErr     atomic.Value
	stop         chan struct{}
	wg           sync.WaitGroup
}

func startLoad(addr string, n, workers int, limit time.Duration) *load {
	l := &load{stop: make(chan struct{})}
	end := time.Now().Add(limit)
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for time.Now().Before(end) {
				select {
				case <-l.stop:
					return
				default:
				}
				code, body := fetch(addr, hostName(rand.IntN(n)))
				l.sent.Add(1)
				if code != 200 || !strings.HasPrefix(body, "A") && !strings.HasPrefix(body, "B") {
					l.failed.Add(1)
					l.firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %q", code, body))
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	return l
}

func (l *load) finish() (sent, failed int64, first string) {
	close(l.stop)
	l.wg.Wait()
	if v := l.firstErr.Load(); v != nil {
		first = v.(string)
	}
	return l.sent.Load(), l.failed.Load(), first
}

// rssSampler records a process's resident set every 50 ms.
type rssSampler struct {
	mu   sync.Mutex
	peak float64
	stop chan struct{}
	done chan struct{}
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if v := rssMiB(pid); v > 0 {
				s.mu.Lock()
				s.peak = max(s.peak, v)
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) finish() float64 {
	close(s.stop)
	<-s.done
	return s.peak
}

// rssMiB is the resident set of pid and its children, in MiB.
func rssMiB(pid int) float64 {
	total := 0.0
	pids := []int{pid}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)); err == nil {
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				pids = append(pids, c)
			}
		}
	}
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				total += kb / 1024
			}
		}
	}
	return total
}

// servedSerial returns the serial number of the certificate addr serves
// for the server name sni, on a new connection (a full handshake).
func servedSerial(addr, sni string) (*big.Int, error) {
	d := &net.Dialer{Timeout: 2 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true}) //nolint:gosec // compares serials only
	if err != nil {
		return nil, err
	}
	defer c.Close()
	certs := c.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, fmt.Errorf("no certificate")
	}
	return certs[0].SerialNumber, nil
}

// stats are the percentiles of a set of durations, in milliseconds.
type stats struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

func summarize(ds []time.Duration) stats {
	if len(ds) == 0 {
		return stats{}
	}
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	return stats{N: len(ds), P50: ms(at(0.5)), P99: ms(at(0.99)), Max: ms(ds[len(ds)-1])}
}
