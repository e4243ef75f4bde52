package dataplane

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// TestHeapTuner checks that, once armed, every collection sets a soft
// memory limit of the live heap plus its headroom (at least the floor),
// and that headroom 0 lifts it again.
func TestHeapTuner(t *testing.T) {
	if _, set := lookupGOMEMLIMIT(); set {
		t.Fatal("GOMEMLIMIT is set in the test environment; the tuner stays off by design")
	}
	defer SetHeapHeadroom(0)
	SetHeapHeadroom(10)
	startHeapTuner()
	keep := make([][]byte, 0, 64)
	for range 64 {
		keep = append(keep, make([]byte, 1<<20)) // 64 MiB live
	}
	var limit int64
	for range 50 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // the finalizer goroutine runs the hook
		if limit = debug.SetMemoryLimit(-1); limit != math.MaxInt64 {
			break
		}
	}
	runtime.KeepAlive(keep)
	if limit == math.MaxInt64 {
		t.Fatal("no memory limit set after collections")
	}
	if min := int64(64<<20 + heapSlackFloor); limit < min {
		t.Fatalf("limit %d MiB, want at least live (64 MiB) + floor", limit>>20)
	}
	if limit > 1<<30 {
		t.Fatalf("limit %d MiB is far above live + headroom", limit>>20)
	}
	SetHeapHeadroom(0)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("headroom 0 left the limit at %d", got)
	}
}
