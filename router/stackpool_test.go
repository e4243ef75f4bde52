package router

import (
	"sync"
	"testing"
)

func TestStackPoolRunsAndReusesWorkers(t *testing.T) {
	p := newStackPool(2)
	n := 0
	for range 10 {
		p.run(func() { n++ })
	}
	if n != 10 || p.workers.Load() != 1 {
		t.Fatalf("ran %d times on %d workers, want 10 on 1", n, p.workers.Load())
	}
}

func TestStackPoolFullRunsInline(t *testing.T) {
	p := newStackPool(1)
	hold, release := make(chan struct{}), make(chan struct{})
	go p.run(func() { close(hold); <-release })
	<-hold
	ran := false
	p.run(func() { ran = true }) // the only worker is busy: inline
	close(release)
	if !ran || p.workers.Load() != 1 {
		t.Fatalf("ran=%v workers=%d", ran, p.workers.Load())
	}
}

func TestStackPoolPanicReachesCaller(t *testing.T) {
	p := newStackPool(4)
	defer func() {
		if v := recover(); v != "boom" {
			t.Fatalf("recovered %v, want boom", v)
		}
		// The worker survived and serves again.
		ok := false
		p.run(func() { ok = true })
		if !ok {
			t.Fatal("worker lost after a panic")
		}
	}()
	p.run(func() { panic("boom") })
}

func TestStackPoolConcurrent(t *testing.T) {
	p := newStackPool(8)
	var mu sync.Mutex
	total := 0
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				p.run(func() { mu.Lock(); total++; mu.Unlock() })
			}
		}()
	}
	wg.Wait()
	if total != 6400 || p.workers.Load() > 8 {
		t.Fatalf("total %d, workers %d", total, p.workers.Load())
	}
}
