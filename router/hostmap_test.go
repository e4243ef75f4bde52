package router

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"testing"
)

// contents lists a hostMap's entries through its lookups.
func contents(m *hostMap) map[string]*hostTable {
	out := map[string]*hostTable{}
	for _, h := range m.sortedKeys() {
		ht, ok := m.lookup([]byte(h))
		if !ok || ht != m.get(h) {
			panic("lookup and get disagree on " + h)
		}
		out[h] = ht
	}
	return out
}

// TestHostMapCopyOnWrite changes copies of a hostMap generation after
// generation (several hosts of one shard at a time, as a Patch may) and
// checks every earlier generation still holds what it held, and that the
// shards a generation did not touch are shared, not copied.
func TestHostMapCopyOnWrite(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var m hostMap
	model := map[string]*hostTable{}
	for i := range 3000 {
		h := fmt.Sprintf("h%d.example.com", i)
		model[h] = &hostTable{}
		m.set(h, model[h])
	}
	type gen struct {
		m     hostMap
		model map[string]*hostTable
	}
	gens := []gen{{m, maps.Clone(model)}}
	for step := range 50 {
		next := gens[len(gens)-1].m
		next.share()
		model = maps.Clone(model)
		touched := map[int]bool{}
		for range rng.IntN(40) {
			h := fmt.Sprintf("h%d.example.com", rng.IntN(4000))
			touched[shardOfS(h)] = true
			if rng.IntN(3) == 0 {
				next.remove(h)
				delete(model, h)
			} else {
				model[h] = &hostTable{}
				next.set(h, model[h])
			}
		}
		if next.len() != len(model) || !maps.Equal(contents(&next), model) {
			t.Fatalf("step %d: the changed copy does not hold what was set", step)
		}
		prev := gens[len(gens)-1].m
		for i := range hostShards {
			same := reflect.ValueOf(prev.shards[i]).UnsafePointer() == reflect.ValueOf(next.shards[i]).UnsafePointer()
			if !touched[i] && !same {
				t.Fatalf("step %d: shard %d copied without a change", step, i)
			}
		}
		gens = append(gens, gen{next, maps.Clone(model)})
		for g, old := range gens {
			if old.m.len() != len(old.model) || !maps.Equal(contents(&old.m), old.model) {
				t.Fatalf("step %d: generation %d changed", step, g)
			}
		}
	}
	if _, ok := (&hostMap{}).lookup([]byte("x")); ok {
		t.Fatal("empty map found a host")
	}
}
