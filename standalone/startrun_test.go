package standalone

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/portico-dev/portico/router"
)

// startRun runs Run with opts (its OnListening, Log and Out replaced) until
// the test ends, waits until want listeners are bound and returns their
// addresses by listener name.
func startRun(t *testing.T, opts Options, want int) map[string]string {
	t.Helper()
	var mu sync.Mutex
	bound := map[string]string{}
	ready := make(chan struct{}, want+8)
	opts.Log, opts.Out = slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard
	opts.OnListening = func(name string, a net.Addr) {
		mu.Lock()
		bound[name] = a.String()
		mu.Unlock()
		ready <- struct{}{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, withTestEngine(opts)) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	for range want {
		select {
		case <-ready:
		case <-time.After(10 * time.Second):
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("listeners not bound: %v", bound)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	out := make(map[string]string, len(bound))
	for k, v := range bound {
		out[k] = v
	}
	return out
}

// testEngine is the HTTP/1.x engine the standalone tests serve with
// (PORTICO_HTTP1_ENGINE, as for the portico binary).
var testEngine = func() router.Engine {
	e, err := router.ParseEngine(os.Getenv("PORTICO_HTTP1_ENGINE"))
	if err != nil {
		panic(err)
	}
	return e
}()

func withTestEngine(o Options) Options {
	o.Edge.Engine = testEngine
	return o
}
