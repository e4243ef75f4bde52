package dataplane

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// TestReturnMemoryAfterFirstTable: the first table going live makes
// ReturnMemory collect and return the start-up garbage at once, not at its
// next periodic check.
func TestReturnMemoryAfterFirstTable(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { ReturnMemory(ctx); close(done) }()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	before := m.NumForcedGC
	noteTableLive()
	noteTableLive() // later calls are no-ops
	deadline := time.Now().Add(memoryCheckInterval / 2)
	for {
		runtime.ReadMemStats(&m)
		if m.NumForcedGC > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no collection within %v of the first table", memoryCheckInterval/2)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}
