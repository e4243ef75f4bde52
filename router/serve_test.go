package router

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestServeDrains checks the shutdown sequence: after the context ends, a
// request in flight still completes and the listener stops accepting.
func TestServeDrains(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		io.WriteString(w, "done")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- ServeListener(ctx, ln, nil, h, Drain{Delay: 50 * time.Millisecond, Grace: 5 * time.Second})
	}()

	result := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			result <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		result <- string(b)
	}()
	<-started
	cancel()
	time.Sleep(200 * time.Millisecond) // past the drain delay: no longer accepting
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("listener still accepting after drain delay")
	}
	close(release)
	if got := <-result; got != "done" {
		t.Fatalf("in-flight request: %q", got)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}
