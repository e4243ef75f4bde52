package dataplane

import (
	"context"
	"runtime"
	"runtime/debug"
	"sync"
	"time"
)

// Memory return: after a burst (thousands of connections, each with its
// goroutines, buffers and TLS state) an idle Go process does not collect
// until its forced GC every two minutes, and keeps freed memory mapped,
// handing it back to the OS only gradually. An edge proxy should shrink
// back soon after an attack or a traffic peak, so ReturnMemory checks every
// memoryCheckInterval: it collects when no collection ran since the last
// check, and when more than memoryIdleSlack of freed heap is still held,
// returns it at once.
//
// Loading the world is such a burst too: at 50,000 Ingresses the lists,
// decodes and the first full translation leave the heap a third above what
// stays live, and that memory stayed resident until the next check. So the
// first routing table to go live (see Dataplane.ApplyTable) returns it at
// once, off the serving path.
const (
	memoryCheckInterval = 10 * time.Second
	memoryIdleSlack     = 32 << 20
)

// ReturnMemory runs until ctx ends, returning idle heap memory to the OS
// after bursts (see above). Reading the statistics costs microseconds; the
// forced collection happens only after a burst.
func ReturnMemory(ctx context.Context) {
	t := time.NewTicker(memoryCheckInterval)
	defer t.Stop()
	var m runtime.MemStats
	var lastGC uint32
	started := firstTable.live
	for {
		select {
		case <-ctx.Done():
			return
		case <-started:
			started = nil
			debug.FreeOSMemory()
			runtime.ReadMemStats(&m)
			lastGC = m.NumGC
			continue
		case <-t.C:
		}
		runtime.ReadMemStats(&m)
		if m.NumGC == lastGC {
			// Idle since the last check: nothing collects the buffers
			// pooled during the burst (sync.Pool empties over two
			// collections), so collect now; a busy process collects by
			// itself.
			runtime.GC()
			runtime.ReadMemStats(&m)
		}
		lastGC = m.NumGC
		if m.HeapIdle-m.HeapReleased > memoryIdleSlack {
			debug.FreeOSMemory()
		}
	}
}

// firstTable is closed when the first routing table goes live.
var firstTable = struct {
	once sync.Once
	live chan struct{}
}{live: make(chan struct{})}

// noteTableLive tells ReturnMemory that a table is live (the first call
// counts; later ones cost an atomic load).
func noteTableLive() { firstTable.once.Do(func() { close(firstTable.live) }) }
