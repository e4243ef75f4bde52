package router

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPolicyGlobalRateLimitWindows: two replicas share a limit of 60 a
// second through a real Redis for 10 s, window after window: together
// they admit at most the limit in every window and within 5% of it over
// the 10 s.
func TestPolicyGlobalRateLimitWindows(t *testing.T) {
	addr, _ := startRedis(t)
	b := echoBackend(t)
	const limit, windows = 60, 10
	scope := fmt.Sprintf("windows-%d", time.Now().UnixNano())
	var urls []string
	for range 2 {
		p := &Policy{GlobalLimit: &GlobalRateLimit{Requests: limit, Per: time.Second, Redis: addr, Scope: scope}}
		_, front := serveTable(t, Config{Routes: []Route{policyRoute("/", b, p)}}, Options{})
		urls = append(urls, front.URL)
	}
	// Windows are aligned to the clock: start just after a second begins,
	// stop just before the tenth ends.
	start := time.Now().Truncate(time.Second).Add(time.Second + 5*time.Millisecond)
	stop := start.Add(windows*time.Second - 30*time.Millisecond)
	time.Sleep(time.Until(start))
	var mu sync.Mutex
	perWindow := map[int64]int{}
	var admitted, refused, undecided atomic.Int64
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 5 * time.Second}
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				resp, err := client.Get(urls[w%2] + "/x")
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				switch resp.StatusCode {
				case 200:
					admitted.Add(1)
					mu.Lock()
					perWindow[time.Now().Unix()]++
					mu.Unlock()
				case 429:
					refused.Add(1)
				case 503:
					// Redis slower than its 250 ms bound (a loaded
					// machine): refused, never waited for.
					undecided.Add(1)
				default:
					t.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
	n := admitted.Load()
	t.Logf("admitted %d, refused %d, Redis undecided %d over %d windows of %d; per window %v", n, refused.Load(),
		undecided.Load(), windows, limit, perWindow)
	if refused.Load() == 0 {
		t.Fatal("the limit was never reached: the test proves nothing")
	}
	// A request sent just before stop may be decided in the next window on
	// a loaded machine: the windows any decision fell in bound the sum.
	touched := int64(0)
	for w := range perWindow {
		touched = max(touched, w-start.Unix()+1)
	}
	if n > limit*touched || n < limit*windows*95/100 {
		t.Errorf("admitted %d over %d windows (%d touched), want within 5%% of %d and at most %d", n, windows, touched,
			limit*windows, limit*touched)
	}
}
