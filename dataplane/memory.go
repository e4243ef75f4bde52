package dataplane

import (
	"context"
	"runtime"
	"runtime/debug"
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
	for {
		select {
		case <-ctx.Done():
			return
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
