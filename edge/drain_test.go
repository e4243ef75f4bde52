//go:build edge

package edge

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-dev/portico/edge/edgetest"
)

// TestSIGTERMUnderLoad: two replicas serve 1,000 requests per second over
// kept-alive connections from a client that, like an endpoints controller,
// sends only to replicas whose /readyz passes; one replica gets SIGTERM
// mid-load. No request fails, and a WebSocket through the terminating
// replica keeps working through the shutdown delay and into the grace
// period, until its client ends it; the replica then exits before its grace
// period is over.
func TestSIGTERMUnderLoad(t *testing.T) {
	be := edgetest.NewBackend(t, edgetest.WithName("drain"), edgetest.WithUpgrade())
	manifests := map[string]string{"m.yaml": edgetest.Join(edgetest.IngressClass(), edgetest.Service("drain", be.Addr()),
		edgetest.Ingress("drain", "drain.test", edgetest.Path{Path: "/", Service: "drain"}))}
	const delay, grace = 1 * time.Second, 8 * time.Second
	args := []string{fmt.Sprintf("--shutdown-delay=%s", delay), fmt.Sprintf("--shutdown-grace=%s", grace)}
	a, b := edgetest.Start(t, manifests, args...), edgetest.Start(t, manifests, args...)
	replicas := []*edgetest.Portico{a, b}

	var ready [2]atomic.Bool
	stopPoll := make(chan struct{})
	defer close(stopPoll)
	poll := &http.Client{Timeout: time.Second}
	for i, p := range replicas {
		ready[i].Store(true)
		go func() {
			for {
				select {
				case <-stopPoll:
					return
				case <-time.After(50 * time.Millisecond):
				}
				resp, err := poll.Get("http://" + p.AdminAddr + "/readyz")
				ok := err == nil && resp.StatusCode == 200
				if resp != nil {
					resp.Body.Close()
				}
				ready[i].Store(ok)
			}
		}()
	}

	// A WebSocket through replica a.
	ws, err := net.Dial("tcp", a.HTTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_, _ = io.WriteString(ws, "GET /ws HTTP/1.1\r\nHost: drain.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	wsr := bufio.NewReader(ws)
	if resp, err := http.ReadResponse(wsr, nil); err != nil || resp.StatusCode != 101 {
		t.Fatalf("WebSocket upgrade through the replica: %v %v", resp, err)
	}
	echo := func(i int) error {
		msg := fmt.Sprintf("ping %04d\n", i)
		_ = ws.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.WriteString(ws, msg); err != nil {
			return err
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(wsr, got); err != nil {
			return err
		}
		if string(got) != msg {
			return fmt.Errorf("echo %q, want %q", got, msg)
		}
		return nil
	}

	clients := make([]*http.Client, 2)
	for i := range clients {
		clients[i] = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	}
	var sent, failed atomic.Int64
	var first atomic.Value
	const workers, period, load = 20, 20 * time.Millisecond, 5 * time.Second // 1,000 requests/s
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(period)
			defer tick.Stop()
			for time.Since(start) < load {
				<-tick.C
				i := rand.IntN(2)
				if !ready[i].Load() {
					i = 1 - i
				}
				req, _ := http.NewRequest("GET", "http://"+replicas[i].HTTPAddr+"/x", nil)
				req.Host = "drain.test"
				sent.Add(1)
				resp, err := clients[i].Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
					first.CompareAndSwap(nil, fmt.Sprintf("replica %d: %v %v", i, resp, err))
				}
			}
		}()
	}
	time.Sleep(time.Second)
	stopped := make(chan time.Duration, 1)
	go func() {
		t0 := time.Now()
		a.Stop() // SIGTERM, then wait for the exit
		stopped <- time.Since(t0)
	}()
	// The WebSocket lives on through the delay and into the grace period.
	wsStart := time.Now()
	for i := 0; time.Since(wsStart) < delay+2*time.Second; i++ {
		if err := echo(i); err != nil {
			t.Errorf("WebSocket through the terminating replica failed %s after SIGTERM: %v", time.Since(wsStart).Round(time.Millisecond), err)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	ws.Close()
	wg.Wait()
	var took time.Duration
	select {
	case took = <-stopped:
	case <-time.After(delay + grace + 5*time.Second):
		t.Fatal("the terminating replica did not exit")
	}
	t.Logf("%d requests at ~1,000/s across two replicas, one terminated mid-load: %d failed; the terminating replica exited %s after SIGTERM (delay %s, grace %s)",
		sent.Load(), failed.Load(), took.Round(time.Millisecond), delay, grace)
	if failed.Load() != 0 {
		t.Errorf("%d of %d requests failed; first: %v", failed.Load(), sent.Load(), first.Load())
	}
	if took >= delay+grace {
		t.Errorf("the replica took %s to exit: it waited for the whole grace period although nothing was left", took)
	}
}
