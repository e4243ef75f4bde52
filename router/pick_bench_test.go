package router

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkPick measures choosing an endpoint of a 16-endpoint backend under
// each balancing setting.
func BenchmarkPick(b *testing.B) {
	var eps []Endpoint
	for i := range 16 {
		eps = append(eps, Endpoint{Address: fmt.Sprintf("10.0.0.%d:8080", i)})
	}
	outlier := &Outlier{Consecutive5xx: 5, BaseEjection: time.Second, MaxEjectionPercent: 50}
	cases := []struct {
		name string
		bal  *Balancing
	}{
		{"default", nil},
		{"round-robin+outlier", &Balancing{Outlier: outlier}},
		{"least-request", &Balancing{Policy: LeastRequest}},
		{"consistent-hash", &Balancing{Policy: ConsistentHash, HashHeader: "X-User"}},
		{"consistent-hash+outlier", &Balancing{Policy: ConsistentHash, HashHeader: "X-User", Outlier: outlier}},
	}
	req := httptest.NewRequest("GET", "http://a.com/", nil)
	req.Header.Set("X-User", "user-42")
	var x Exchange
	x.fromStd(req)
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			tab := Compile(Config{Routes: []Route{{Path: "/", Backends: []WeightedBackend{{Weight: 1,
				Backend: &Backend{Name: "b", Endpoints: eps, Balancing: c.bal}}}}}})
			New(Options{}).Swap(tab)
			be := tab.Lookup("x", "/", nil).pick()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ep := be.picker.Pick(&x, uint32(i), 0)
				be.picker.started(ep)
				be.picker.finished(ep, 200, true)
			}
		})
	}
}
