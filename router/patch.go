package router

import (
	"maps"
	"slices"
	"strings"
)

// HostRoutes are all the routes of one host on one listener, in
// configuration order (the order Compile would see them in).
type HostRoutes struct {
	Listener  string
	Host      string
	HostMatch HostMatch
	// Routes all have the Listener, Host and HostMatch above. Patch keeps
	// pointers into the slice: it must not be modified afterwards.
	Routes []Route
}

// Patch describes a Table as changes to another: the hosts listed are
// served by their new routes (none: the host is gone), everything else as
// before.
type Patch struct {
	// Hosts replace the routes of their hosts. A host is named by its
	// listener, match kind and host compared as Compile compares them
	// (case and a trailing dot ignored); each host appears at most once.
	Hosts []HostRoutes
	// Default replaces the default route when SetDefault is true.
	Default    *Route
	SetDefault bool
	// L4, when set, replaces every connection-level route (its
	// Passthrough and TCP routes; its other fields are ignored).
	L4 *Config
}

// hostKey names a hostTable inside a Table: the listener, the map of the
// hostIndex that holds it, and its key there.
type hostKey struct {
	listener string
	match    HostMatch // HostAny, HostExact, HostWildcardOneLabel or HostWildcardAnyLabels
	host     string    // normalised as hostTableFor does; "" for HostAny
}

func keyOf(listener, host string, m HostMatch) hostKey {
	switch m {
	case HostAny:
		return hostKey{listener: listener, match: m}
	case HostWildcardOneLabel, HostWildcardAnyLabels:
		host = strings.TrimPrefix(host, "*.")
	}
	return hostKey{listener: listener, match: m, host: strings.ToLower(strings.TrimSuffix(host, "."))}
}

// Patch returns a new Table serving what t serves with p applied. The
// host tables of hosts p does not name are shared with t (Tables are
// immutable, so sharing is safe), so the cost is that of the hosts named
// plus copying t's host maps and route list, not that of compiling every
// route again. Patching a Table gives the same lookups, routes and drops as
// compiling the patched Config from scratch, with two differences that
// change no answer: Routes lists the routes by listener and host, not in
// configuration order (and only when first called), and backends are shared between the routes of one patch only (each keeps
// its own round-robin position; endpoint health is kept by address for
// every Table alike).
func (t *Table) Patch(p Patch) *Table {
	n := &Table{
		lazyRoutes: true,
		listeners:  maps.Clone(t.listeners),
		def:        t.def,
		l4:         t.l4,
		predicates: t.predicates,
		balanced:   t.balanced,
	}
	backends := map[*Backend]*compiledBackend{}
	replaced := map[*hostTable]bool{}
	patched := make(map[hostKey]bool, len(p.Hosts))
	cloned := map[string]bool{} // listeners whose index n owns
	added := 0
	var drops []Drop
	for _, hr := range p.Hosts {
		k := keyOf(hr.Listener, hr.Host, hr.HostMatch)
		patched[k] = true
		hi := n.listeners[k.listener]
		if hi != nil && !cloned[k.listener] {
			hi = hi.clone()
			n.listeners[k.listener] = hi
			cloned[k.listener] = true
		}
		if hi != nil {
			if old := hi.get(k); old != nil {
				replaced[old] = true
				// The old routes' backends carry on, with their round-robin
				// positions, for the routes that still name them.
				for _, r := range old.all() {
					for _, b := range r.backends {
						backends[b.Backend] = b
					}
				}
				hi.remove(k)
			}
		}
		if len(hr.Routes) == 0 {
			continue
		}
		if hi == nil {
			// A new listener: its index is this Table's own.
			hi = n.index(k.listener)
			cloned[k.listener] = true
		}
		for i := range hr.Routes {
			r, err := compileRoute(&hr.Routes[i], backends)
			if err != nil {
				drops = append(drops, Drop{Route: hr.Routes[i].Source, Listener: hr.Listener, Host: hr.Routes[i].Host,
					Reason: "invalid route: " + err.Error(), hostMatch: hr.HostMatch})
				continue
			}
			ht := hi.hostTableFor(r.Host, r.HostMatch)
			if winner := ht.add(r); winner != nil {
				src := winner.Source
				drops = append(drops, Drop{Route: r.Source, Listener: r.Listener, Host: r.Host, Winner: &src,
					Reason:    "never matches: " + src.String() + " comes first on the same host and matches every request it would",
					hostMatch: hr.HostMatch})
				continue
			}
			r.in = ht
			added++
			n.predicates = n.predicates || r.hasPredicates()
		}
	}
	n.nroutes = t.RouteCount() + added
	for old := range replaced {
		n.nroutes -= old.count()
	}
	for _, d := range t.dropped {
		if !patched[keyOf(d.Listener, d.Host, d.hostMatch)] {
			n.dropped = append(n.dropped, d)
		}
	}
	n.dropped = append(n.dropped, drops...)
	if p.SetDefault {
		n.def = nil
		if p.Default != nil {
			n.def, _ = compileRoute(p.Default, backends)
		}
	}
	if p.L4 != nil {
		n.l4 = compileL4(*p.L4, backends)
	}
	extra := false
	for _, b := range backends {
		if b.picker.tracksHealth() && !slices.Contains(n.balanced, b) {
			if !extra {
				n.balanced = slices.Clone(n.balanced)
				extra = true
			}
			n.balanced = append(n.balanced, b)
		}
	}
	return n
}

// clone copies the host index for a patch. Its host maps stay shared
// with hi: each copies the shards it changes, on first change.
func (hi *hostIndex) clone() *hostIndex {
	c := *hi
	c.exact.share()
	c.wildOne.share()
	c.wildAny.share()
	return &c
}

func (hi *hostIndex) get(k hostKey) *hostTable {
	switch k.match {
	case HostAny:
		return hi.any
	case HostExact:
		return hi.exact.get(k.host)
	case HostWildcardOneLabel:
		return hi.wildOne.get(k.host)
	}
	return hi.wildAny.get(k.host)
}

func (hi *hostIndex) remove(k hostKey) {
	switch k.match {
	case HostAny:
		hi.any = nil
	case HostExact:
		hi.exact.remove(k.host)
	case HostWildcardOneLabel:
		hi.wildOne.remove(k.host)
	default:
		hi.wildAny.remove(k.host)
	}
}

// all lists a host table's routes: exact paths, regular expressions, then
// prefixes, each path's routes in precedence order.
func (ht *hostTable) all() []*CompiledRoute {
	var out []*CompiledRoute
	for _, p := range slices.Sorted(maps.Keys(ht.exact)) {
		out = append(out, ht.exact[p]...)
	}
	out = append(out, ht.regex...)
	for _, p := range slices.Sorted(maps.Keys(ht.prefix)) {
		out = append(out, ht.prefix[p]...)
	}
	return out
}

// count is len(all()).
func (ht *hostTable) count() int {
	n := len(ht.regex)
	for _, rs := range ht.exact {
		n += len(rs)
	}
	for _, rs := range ht.prefix {
		n += len(rs)
	}
	return n
}

// walkRoutes lists the routes of a patched Table: by listener, then host
// (rules without a host, exact hosts, one-label and any-label wildcards,
// each sorted), each host's as all lists them.
func (t *Table) walkRoutes() []*CompiledRoute {
	out := make([]*CompiledRoute, 0, t.nroutes)
	for _, l := range t.Listeners() {
		hi := t.listeners[l]
		if hi.any != nil {
			out = append(out, hi.any.all()...)
		}
		for _, m := range []*hostMap{&hi.exact, &hi.wildOne, &hi.wildAny} {
			for _, h := range m.sortedKeys() {
				out = append(out, m.get(h).all()...)
			}
		}
	}
	return out
}
