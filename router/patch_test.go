package router

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// randomHost makes the routes of one host: a few paths of each match kind,
// some of them duplicates (which Compile drops) and an invalid regex.
func randomHost(rng *rand.Rand, listener, host string, m HostMatch, gen int) HostRoutes {
	hr := HostRoutes{Listener: listener, Host: host, HostMatch: m}
	be := &Backend{Name: fmt.Sprintf("be-%d", rng.IntN(5)), Endpoints: []Endpoint{{Address: "10.0.0.1:80"}}}
	for i := range rng.IntN(5) {
		r := Route{Listener: listener, Host: host, HostMatch: m, Path: []string{"/", "/a", "/a/b", "/c"}[rng.IntN(4)],
			PathMatch: PathMatch(rng.IntN(2)), Backends: []WeightedBackend{{Backend: be, Weight: 1}},
			Source: Source{Kind: "Ingress", Namespace: "ns", Name: fmt.Sprintf("%s-%d", host, gen), Rule: i, Path: 0}}
		if rng.IntN(10) == 0 {
			r.Path, r.PathMatch = "/x[", PathRegularExpression
		}
		hr.Routes = append(hr.Routes, r)
	}
	return hr
}

// describe renders what a Table serves, in an order independent of how it
// was built.
func describe(t *Table, hosts []string) string {
	var lines []string
	for _, r := range t.Routes() {
		lines = append(lines, "route "+r.Listener+" "+r.Host+" "+r.Path+" "+r.PathMatch.String()+" "+r.Source.String())
	}
	for _, d := range t.Dropped() {
		w := ""
		if d.Winner != nil {
			w = d.Winner.String()
		}
		lines = append(lines, "drop "+d.Listener+" "+d.Host+" "+d.Route.String()+" "+w+" "+d.Reason)
	}
	slices.Sort(lines)
	for _, l := range []string{"", "gw"} {
		for _, h := range hosts {
			for _, p := range []string{"/", "/a", "/a/b/c", "/c", "/x["} {
				got := "nil"
				if r := t.LookupOn(l, h, p, nil); r != nil {
					got = r.Source.String() + " " + r.Path
				}
				lines = append(lines, "lookup "+l+" "+h+p+" "+got)
			}
		}
	}
	if d := t.Default(); d != nil {
		lines = append(lines, "default "+d.Source.String())
	}
	return strings.Join(lines, "\n")
}

// TestPatchEqualsCompile patches random hosts of a table again and again
// and compares it with the table compiled from the whole configuration.
func TestPatchEqualsCompile(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	type slot struct {
		listener, host string
		m              HostMatch
	}
	var slots []slot
	for _, l := range []string{"", "gw"} {
		slots = append(slots, slot{l, "", HostAny})
		for i := range 6 {
			slots = append(slots, slot{l, fmt.Sprintf("h%d.example.com", i), HostExact},
				slot{l, fmt.Sprintf("*.w%d.example.com", i), HostWildcardOneLabel},
				slot{l, fmt.Sprintf("*.a%d.example.com", i), HostWildcardAnyLabels})
		}
	}
	var lookupHosts []string
	for i := range 6 {
		lookupHosts = append(lookupHosts, fmt.Sprintf("h%d.example.com", i), fmt.Sprintf("x.w%d.example.com", i),
			fmt.Sprintf("y.z.a%d.example.com", i), "other.example.com")
	}
	current := make([]HostRoutes, len(slots))
	var def *Route
	full := func() Config {
		cfg := Config{Default: def}
		for _, hr := range current {
			cfg.Routes = append(cfg.Routes, hr.Routes...)
		}
		return cfg
	}
	table := Compile(full())
	for step := range 300 {
		var p Patch
		for range 1 + rng.IntN(3) {
			i := rng.IntN(len(slots))
			if slices.ContainsFunc(p.Hosts, func(h HostRoutes) bool { return h.Host == slots[i].host && h.Listener == slots[i].listener }) {
				continue
			}
			current[i] = randomHost(rng, slots[i].listener, slots[i].host, slots[i].m, step)
			p.Hosts = append(p.Hosts, current[i])
		}
		if rng.IntN(5) == 0 {
			p.SetDefault = true
			if rng.IntN(2) == 0 {
				p.Default = &Route{Path: "/", Source: Source{Kind: "Controller", Name: fmt.Sprint(step), Rule: -1, Path: -1}}
			}
			def = p.Default
		}
		before := describe(table, lookupHosts)
		old := table
		table = table.Patch(p)
		if describe(old, lookupHosts) != before {
			t.Fatalf("step %d: Patch modified the table it patched", step)
		}
		got, exp := describe(table, lookupHosts), describe(Compile(full()), lookupHosts)
		if got != exp {
			t.Fatalf("step %d: patched table differs from compiled\npatched:\n%s\ncompiled:\n%s", step, got, exp)
		}
	}
}
