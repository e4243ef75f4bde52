package dataplane

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/portico-dev/portico/router"
)

// TestListenerSetRetriesBusyPort binds a listener whose port is still held
// (as by a draining listener that gave it up) once the port is free.
func TestListenerSetRetriesBusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := busy.Addr().String()
	rt := router.New(router.Options{})
	rt.Swap(router.Compile(router.Config{}))
	bound := make(chan string, 1)
	set := NewListenerSet(rt, router.Drain{}, slog.New(slog.NewTextHandler(io.Discard, nil)),
		func(key string, a net.Addr) { bound <- key })
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); set.Wait() }()
	set.Sync(ctx, map[string]router.Listener{"Gateway/ns/gw:80": {Addr: addr, Key: "Gateway/ns/gw:80"}})
	time.Sleep(3 * bindRetry)
	select {
	case <-bound:
		t.Fatal("bound a port that was busy")
	default:
	}
	busy.Close()
	select {
	case key := <-bound:
		if key != "Gateway/ns/gw:80" {
			t.Fatalf("bound %s", key)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("listener never bound after the port was freed")
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d", resp.StatusCode)
	}
}
