package dataplane

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// Heap headroom: with Go's default GOGC=100 the heap may grow to twice
// what is live before the next collection. At 50,000 Ingresses the live
// routing state is hundreds of MiB, so a burst of changes (each rebuild
// leaves the replaced per-host tables as garbage) doubles the resident
// set for a while — the very behaviour users leave nginx for. The heap
// tuner bounds that slack instead: after every collection it sets the
// runtime's soft memory limit to what the runtime holds besides the heap,
// plus the live heap, plus a headroom of max(live×percent, heapSlackFloor).
// Small configurations are unaffected (the floor is above GOGC's own
// goal there); large ones collect earlier instead of growing. The limit
// is soft: when live data really grows, the next collection raises it,
// and the runtime caps the CPU a collection near the limit may take.
//
// It starts with the first routing table (cold start keeps Go's defaults,
// so loading the world is not slowed by collections) and never runs when
// the operator set GOMEMLIMIT themselves.
const heapSlackFloor = 64 << 20

// heapTuner holds the headroom in percent (0: off).
type heapTuner struct {
	percent atomic.Int64
	once    sync.Once
	samples []metrics.Sample
}

var tuner heapTuner

// SetHeapHeadroom sets the headroom percent of the live heap (0 turns the
// tuner off and restores Go's defaults). Call it before the first table
// is applied; later calls change the headroom from the next collection.
func SetHeapHeadroom(percent int) {
	tuner.percent.Store(int64(max(percent, 0)))
	if percent <= 0 {
		debug.SetMemoryLimit(math.MaxInt64)
	}
}

// startHeapTuner arms the tuner once, when the first table goes live
// with a headroom set (it costs nothing per apply otherwise).
func startHeapTuner() {
	if tuner.percent.Load() <= 0 {
		return
	}
	tuner.once.Do(func() {
		if _, set := lookupGOMEMLIMIT(); set {
			return
		}
		tuner.samples = []metrics.Sample{
			{Name: "/gc/heap/live:bytes"},
			{Name: "/memory/classes/total:bytes"},
			{Name: "/memory/classes/heap/objects:bytes"},
			{Name: "/memory/classes/heap/unused:bytes"},
			{Name: "/memory/classes/heap/free:bytes"},
			{Name: "/memory/classes/heap/released:bytes"},
		}
		tuner.adjust()
		armGCHook()
	})
}

// gcHook is unreachable as soon as it is armed, so its finalizer runs
// after the next collection; the finalizer re-arms it.
type gcHook struct{ _ [16]byte }

func armGCHook() {
	runtime.SetFinalizer(&gcHook{}, func(*gcHook) {
		tuner.adjust()
		armGCHook()
	})
}

// adjust computes the limit from the statistics of the collection that
// just ended. It runs on the finalizer goroutine, one at a time.
func (t *heapTuner) adjust() {
	p := t.percent.Load()
	if p <= 0 {
		return
	}
	metrics.Read(t.samples)
	v := func(i int) uint64 {
		if t.samples[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return t.samples[i].Value.Uint64()
	}
	live, total := v(0), v(1)
	heap := v(2) + v(3) + v(4) + v(5)
	other := uint64(0)
	if total > heap {
		other = total - heap
	}
	slack := max(live*uint64(p)/100, heapSlackFloor)
	debug.SetMemoryLimit(int64(min(other+live+slack, math.MaxInt64)))
}

func lookupGOMEMLIMIT() (string, bool) { return os.LookupEnv("GOMEMLIMIT") }
