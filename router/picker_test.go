package router

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

func balancedTable(eps []Endpoint, bal *Balancing) (*Table, *compiledBackend) {
	tab := Compile(Config{Routes: []Route{{Path: "/", Backends: []WeightedBackend{{Weight: 1,
		Backend: &Backend{Name: "b", Endpoints: eps, Balancing: bal}}}}}})
	return tab, tab.Lookup("x", "/", nil).pick()
}

func endpoints(n int) []Endpoint {
	eps := make([]Endpoint, n)
	for i := range eps {
		eps[i] = Endpoint{Address: fmt.Sprintf("10.0.0.%d:80", i)}
	}
	return eps
}

// TestHealthRegistryPrunesAndKeeps: publishing a table keeps the health of
// endpoints it still balances (an ejection outlives the change), forgets
// the others, and never tracks backends without balancing.
func TestHealthRegistryPrunesAndKeeps(t *testing.T) {
	rt := New(Options{})
	reg := &rt.opts.Transport.health
	o := &Outlier{Consecutive5xx: 1, BaseEjection: time.Hour, MaxEjectionPercent: 100}
	tab, b := balancedTable(endpoints(4), &Balancing{Outlier: o})
	rt.Swap(tab)
	if n := reg.size(); n != 4 {
		t.Fatalf("tracked %d addresses, want 4", n)
	}
	b.picker.started(2)
	b.picker.finished(2, 503, true) // ejects 10.0.0.2
	tab2, b2 := balancedTable(endpoints(3), &Balancing{Outlier: o})
	rt.Swap(tab2)
	if n := reg.size(); n != 3 {
		t.Fatalf("after the change tracked %d addresses, want 3 (10.0.0.3 pruned)", n)
	}
	var x Exchange
	for i := range 30 {
		if ep := b2.picker.Pick(&x, uint32(i), 0); ep == 2 {
			t.Fatal("the endpoint ejected under the previous table was picked")
		}
	}
	tab3, _ := balancedTable(endpoints(3), nil)
	rt.Swap(tab3)
	if n := reg.size(); n != 0 {
		t.Fatalf("a table without balancing leaves %d tracked addresses, want 0", n)
	}
}

// TestConsistentHashIsStableAndMinimal: the same key goes to the same
// endpoint in any process (the hash is not seeded), and removing an
// endpoint moves only the keys it had.
func TestConsistentHashIsStableAndMinimal(t *testing.T) {
	bal := &Balancing{Policy: ConsistentHash, HashHeader: "X-User"}
	_, all := balancedTable(endpoints(8), bal)
	_, fewer := balancedTable(endpoints(8)[:7], bal)
	h := http.Header{}
	x := Exchange{Header: h}
	moved := 0
	for i := range 400 {
		h.Set("X-User", fmt.Sprint("user-", i))
		a, b := all.picker.Pick(&x, 0, 0), fewer.picker.Pick(&x, 0, 0)
		if a != 7 && a != b {
			t.Fatalf("user-%d moved from %d to %d though its endpoint stayed", i, a, b)
		}
		if a == 7 {
			moved++
		}
	}
	if moved < 20 || moved > 90 {
		t.Fatalf("%d of 400 keys on the removed endpoint, want about 50", moved)
	}
	h.Set("X-User", "alice")
	if got := all.picker.Pick(&x, 0, 0); got != all.picker.Pick(&x, 9, 0) {
		t.Fatal("the key's endpoint depends on the round-robin counter")
	}
	// Pinned: xxhash is unseeded, so every replica agrees. A change of
	// this value re-shards every user of every deployment.
	if got := all.picker.Pick(&x, 0, 0); got != pinnedAlice {
		t.Fatalf("alice on endpoint %d, want %d in every process", got, pinnedAlice)
	}
}

const pinnedAlice = 1

// TestPickerSkipsEjectedWithinLimit: ejected endpoints are skipped while
// at most MaxEjectionPercent are out; beyond it all are used.
func TestPickerSkipsEjectedWithinLimit(t *testing.T) {
	o := &Outlier{Consecutive5xx: 1, BaseEjection: time.Hour, MaxEjectionPercent: 50}
	tab, b := balancedTable(endpoints(4), &Balancing{Policy: Random, Outlier: o})
	New(Options{}).Swap(tab)
	b.picker.finished(0, 500, true)
	b.picker.finished(1, 500, true)
	var x Exchange
	for range 50 {
		if ep := b.picker.Pick(&x, 0, 0); ep < 2 {
			t.Fatalf("picked ejected endpoint %d with 2 of 4 out (limit 50%%)", ep)
		}
	}
	b.picker.finished(2, 500, true)
	seen := map[int]bool{}
	for range 200 {
		seen[b.picker.Pick(&x, 0, 0)] = true
	}
	if len(seen) != 4 {
		t.Fatalf("with 3 of 4 ejected (over the limit) all should be used, saw %v", seen)
	}
}
