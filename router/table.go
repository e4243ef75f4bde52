package router

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Table is an immutable, compiled view of one routing Config. A Table is never
// modified after Compile returns; a new Config produces a new Table. Lookup
// allocates nothing and is safe for concurrent use.
type Table struct {
	// listeners holds each listener's hosts; "" is the shared listener of
	// Ingresses, other keys name Gateway listeners (Route.Listener).
	listeners map[string]*hostIndex
	def       *CompiledRoute   // served on "" when the selected host has no match
	routes    []*CompiledRoute // every route, in configuration order
	// nroutes is len(routes). A patched Table lists its routes only when
	// asked (lazyRoutes, routesOnce): copying every route of a large
	// table would cost more than the patch.
	nroutes    int
	lazyRoutes bool
	routesOnce sync.Once
	l4         l4Table
	// predicates says whether any route matches on method, headers or
	// query, so lookups that need none skip building a request view.
	predicates bool
	// Generation numbers Tables in the order a Router first published
	// them (Swap sets it once, before publishing); 0 until then.
	Generation uint64
	// dropped lists the routes Compile left out.
	dropped []Drop
	// balanced are the backends whose pickers keep endpoint health, bound
	// to the Router's registry when the Table is published.
	balanced []*compiledBackend
}

// Drop is a route Compile left out of a Table: one that can never match
// because an earlier route of its listener and host has the very same
// match (Winner), or one whose regular expressions do not compile.
type Drop struct {
	Route Source
	// Listener and Host say where the route was left out.
	Listener, Host string
	Winner         *Source
	Reason         string
	// hostMatch completes Listener and Host, for Patch.
	hostMatch HostMatch
}

// Dropped lists the routes Compile left out, in configuration order, so
// that nothing is dropped without a word.
func (t *Table) Dropped() []Drop { return t.dropped }

// hostIndex finds the routes of a host on one listener.
type hostIndex struct {
	exact   hostMap    // lower-case host
	wildOne hostMap    // "foo.com" for "*.foo.com", one label
	wildAny hostMap    // "foo.com" for "*.foo.com", any labels
	any     *hostTable // rules without a host
}

// hostTable holds the routes of one host: an exact-path map, prefix routes
// keyed by their path without a trailing slash ("/" for the root), and
// regex routes. Each key holds its candidates in precedence order; the first
// whose predicates match wins.
type hostTable struct {
	exact  map[string][]*CompiledRoute
	prefix map[string][]*CompiledRoute
	regex  []*CompiledRoute
}

// CompiledRoute is a Route ready to serve: its backends resolved into
// pickers. It points at the Config's Route, which Compile never modifies.
type CompiledRoute struct {
	*Route
	weighted
	pathRe *regexp.Regexp
	// pathLit is the literal prefix every match of pathRe starts with.
	pathLit string
	// rewriteRe is the compiled Rewrite.Path.Regex.
	rewriteRe *regexp.Regexp
	headers   []compiledMatch
	query     []compiledMatch
	// metricName labels the route in metrics: Kind/namespace/name.
	metricName string
	// metrics caches the series of the route's last request.
	metrics atomic.Pointer[routeSeries]
	// in is the host table the route is filed in (for Patch).
	in *hostTable
	// shape is the compiled Compression and ResponseOverrides (nil for
	// neither).
	shape *responseShape
	// errorBackend is ErrorPages.Backend, compiled.
	errorBackend *compiledBackend
}

// weighted chooses among backends by weight.
type weighted struct {
	backends    []*compiledBackend
	cumWeights  []uint32 // running sum of weights, for weighted choice
	totalWeight uint32
	// filters holds per-backend header operations, parallel to backends;
	// nil when no backend of the route has any.
	filters []*WeightedBackend
}

// compiledBackend is one Backend with its round-robin position. A
// compiledBackend is shared by every route of a Table that names the same
// *Backend.
type compiledBackend struct {
	*Backend
	picker Picker
	next   atomic.Uint32
	// active counts requests in flight, for Balancing.MaxRequests.
	active atomic.Int32
	// sessions are the endpoints' session tokens, made on first use.
	sessions atomic.Pointer[sessionIndex]
}

// Compile builds a Table from cfg. Routes are taken in the order given: when
// two routes claim the same host, path and match kind, the first one wins
// (translation orders them oldest first and reports the loser).
func Compile(cfg Config) *Table {
	t := &Table{listeners: map[string]*hostIndex{}}
	backends := map[*Backend]*compiledBackend{}
	for i := range cfg.Routes {
		r, err := compileRoute(&cfg.Routes[i], backends)
		if err != nil {
			t.dropped = append(t.dropped, Drop{Route: cfg.Routes[i].Source, Listener: cfg.Routes[i].Listener, Host: cfg.Routes[i].Host,
				Reason: "invalid route: " + err.Error(), hostMatch: cfg.Routes[i].HostMatch})
			continue
		}
		ht := t.index(r.Listener).hostTableFor(r.Host, r.HostMatch)
		if winner := ht.add(r); winner != nil {
			src := winner.Source
			t.dropped = append(t.dropped, Drop{Route: r.Source, Listener: r.Listener, Host: r.Host, Winner: &src,
				Reason:    "never matches: " + src.String() + " comes first on the same host and matches every request it would",
				hostMatch: r.HostMatch})
			continue
		}
		r.in = ht
		t.routes = append(t.routes, r)
		t.nroutes++
		t.predicates = t.predicates || r.hasPredicates()
	}
	for _, h := range cfg.Hosts {
		t.index(h.Listener).hostTableFor(h.Host, h.HostMatch)
	}
	if cfg.Default != nil {
		t.def, _ = compileRoute(cfg.Default, backends)
	}
	t.l4 = compileL4(cfg, backends)
	for _, b := range backends {
		if b.picker.tracksHealth() {
			t.balanced = append(t.balanced, b)
		}
	}
	return t
}

// add files r under its path, in precedence order. It returns the earlier
// route with the very same match, which makes r unreachable, or nil.
func (ht *hostTable) add(r *CompiledRoute) *CompiledRoute {
	var winner *CompiledRoute
	switch r.PathMatch {
	case PathRegularExpression:
		ht.regex, winner = insert(ht.regex, r, false)
	case PathExact:
		if ht.exact == nil {
			ht.exact = map[string][]*CompiledRoute{}
		}
		ht.exact[r.Path], winner = insert(ht.exact[r.Path], r, true)
	default:
		if ht.prefix == nil {
			ht.prefix = map[string][]*CompiledRoute{}
		}
		k := prefixKey(r.Path)
		ht.prefix[k], winner = insert(ht.prefix[k], r, true)
	}
	return winner
}

// insert appends r unless a route with the same match is there (which it
// returns), keeping the list in precedence order when sorted.
func insert(list []*CompiledRoute, r *CompiledRoute, sorted bool) ([]*CompiledRoute, *CompiledRoute) {
	for _, other := range list {
		if other.sameMatch(r) || !sorted && other.covers(r) {
			return list, other
		}
	}
	list = append(list, r)
	if sorted {
		slices.SortStableFunc(list, precedence)
	}
	return list, nil
}

func compileRoute(r *Route, backends map[*Backend]*compiledBackend) (*CompiledRoute, error) {
	cr := &CompiledRoute{Route: r}
	rx, err := r.compiledRegexes()
	if err != nil {
		return nil, err
	}
	cr.compileMatches(rx)
	cr.metricName = r.Source.Kind + "/" + r.Source.Namespace + "/" + r.Source.Name
	cr.weighted = compileWeighted(r.Backends, backends)
	if cr.shape, err = compileShape(r); err != nil {
		return nil, err
	}
	if e := r.ErrorPages; e != nil {
		if err := CheckErrorPages(e); err != nil {
			return nil, fmt.Errorf("errorPages: %w", err)
		}
		if eb := compileWeighted([]WeightedBackend{{Backend: e.Backend, Weight: 1}}, backends); len(eb.backends) == 1 {
			cr.errorBackend = eb.backends[0]
		}
	}
	if r.Policy != nil {
		// Compiled now, not on the first request; a policy that fails
		// answers 500 on its routes (never drops them, which would let a
		// less specific route serve their requests unchecked).
		_, _ = r.Policy.chain()
	}
	return cr, nil
}

func compileWeighted(wbs []WeightedBackend, backends map[*Backend]*compiledBackend) weighted {
	var w weighted
	for i, wb := range wbs {
		if wb.Backend == nil || wb.Weight == 0 {
			continue
		}
		cb, ok := backends[wb.Backend]
		if !ok {
			cb = &compiledBackend{Backend: wb.Backend, picker: newPicker(wb.Backend)}
			backends[wb.Backend] = cb
		}
		w.totalWeight += wb.Weight
		w.backends = append(w.backends, cb)
		w.cumWeights = append(w.cumWeights, w.totalWeight)
		if wb.RequestHeaders != nil || wb.ResponseHeaders != nil {
			if w.filters == nil {
				w.filters = make([]*WeightedBackend, len(w.backends)-1, len(wbs))
			}
			w.filters = append(w.filters, &wbs[i])
		} else if w.filters != nil {
			w.filters = append(w.filters, nil)
		}
	}
	return w
}

// index returns the host index of a listener, making it on first use.
func (t *Table) index(listener string) *hostIndex {
	hi, ok := t.listeners[listener]
	if !ok {
		hi = &hostIndex{}
		t.listeners[listener] = hi
	}
	return hi
}

func (t *hostIndex) hostTableFor(host string, m HostMatch) *hostTable {
	var hosts *hostMap
	switch m {
	case HostAny:
		if t.any == nil {
			t.any = &hostTable{}
		}
		return t.any
	case HostExact:
		hosts = &t.exact
	case HostWildcardOneLabel:
		hosts = &t.wildOne
		host = strings.TrimPrefix(host, "*.")
	case HostWildcardAnyLabels:
		hosts = &t.wildAny
		host = strings.TrimPrefix(host, "*.")
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	ht := hosts.get(host)
	if ht == nil {
		ht = &hostTable{}
		hosts.set(host, ht)
	}
	return ht
}

// prefixKey drops a trailing slash so that a rule /foo/ matches /foo.
func prefixKey(p string) string {
	if len(p) > 1 && p[len(p)-1] == '/' {
		return p[:len(p)-1]
	}
	return p
}

// Routes returns every route of the Table in the order they are matched
// within a host: for `portico routes` and tests. The slice must not be
// modified.
func (t *Table) Routes() []*CompiledRoute {
	if t.lazyRoutes {
		t.routesOnce.Do(func() { t.routes = t.walkRoutes() })
	}
	return t.routes
}

// RouteCount is len(Routes()), without listing them.
func (t *Table) RouteCount() int { return t.nroutes }

// Default returns the route served when nothing else matches, or nil.
func (t *Table) Default() *CompiledRoute { return t.def }

// Lookup returns the route for a request to host (a Host header value, any
// case, with or without port) and path (canonical, see CanonicalPath), or
// nil when nothing matches and there is no default. req supplies method,
// headers and query for routes that match on them; it may be nil when
// NeedsRequest is false. The most specific host wins (exact, then
// wildcard, then rules without host); within it an exact path beats
// regular expressions (in configuration order, a choice the Gateway API
// leaves to implementations), which beat the longest element-wise prefix;
// among routes of one path the Gateway API's precedence decides. Lookup does not
// fall back to a less specific host when the selected one has no match.
func (t *Table) Lookup(host, path string, req Request) *CompiledRoute {
	return t.LookupOn("", host, path, req)
}

// LookupOn is Lookup for the routes of one listener. Only the shared
// listener "" has a default route.
func (t *Table) LookupOn(listener, host, path string, req Request) *CompiledRoute {
	return t.lookupOn(listener, host, path, req, nil)
}

// lookupOn is LookupOn recording its decisions in tr (Explain); tr is nil
// when serving, and the decisions are the same either way.
func (t *Table) lookupOn(listener, host, path string, req Request, tr *lookupTrace) *CompiledRoute {
	if hi := t.listeners[listener]; hi != nil {
		if ht := hi.selectHost(host, tr); ht != nil {
			if r := ht.match(path, req, tr); r != nil {
				return r
			}
		}
	}
	if listener == "" {
		return t.def
	}
	return nil
}

// Listeners returns the listener keys that have routes, for tools.
func (t *Table) Listeners() []string {
	out := make([]string, 0, len(t.listeners))
	for k := range t.listeners {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// NeedsRequest reports whether some route matches on method, headers or
// query parameters, so Lookup needs a Request.
func (t *Table) NeedsRequest() bool { return t.predicates }

func (ht *hostTable) match(path string, req Request, tr *lookupTrace) *CompiledRoute {
	if r := firstMatch(ht.exact[path], path, req, tr); r != nil {
		return r
	}
	if r := firstMatch(ht.regex, path, req, tr); r != nil {
		return r
	}
	if ht.prefix != nil {
		s := prefixKey(path)
		for {
			if r := firstMatch(ht.prefix[s], path, req, tr); r != nil {
				return r
			}
			i := strings.LastIndexByte(s, '/')
			if i <= 0 {
				break
			}
			s = s[:i]
		}
		if s != "/" {
			return firstMatch(ht.prefix["/"], path, req, tr)
		}
	}
	return nil
}

// maxHost bounds the stack buffer used to lower-case a host; DNS names are at
// most 253 characters.
const maxHost = 256

// selectHost picks the host table serving host: exact, then one-label
// wildcard, then any-label wildcards from the longest suffix, then the
// rules without host. With tr it goes on past the first to record every
// host table that matches (the ones the first shadows).
func (t *hostIndex) selectHost(host string, tr *lookupTrace) *hostTable {
	host = stripPort(host)
	var buf [maxHost]byte
	if len(host) > len(buf) {
		tr.host(t.any, HostAny, "")
		return t.any
	}
	n := copy(buf[:], host)
	for i := 0; i < n; i++ {
		if c := buf[i]; 'A' <= c && c <= 'Z' {
			buf[i] = c + 'a' - 'A'
		}
	}
	if n > 0 && buf[n-1] == '.' {
		n--
	}
	h := buf[:n]
	if ht, ok := t.exact.lookup(h); ok {
		if tr == nil {
			return ht
		}
		tr.host(ht, HostExact, string(h))
	}
	dot := indexByte(h, '.')
	if dot > 0 && !t.wildOne.empty() {
		if ht, ok := t.wildOne.lookup(h[dot+1:]); ok {
			if tr == nil {
				return ht
			}
			tr.host(ht, HostWildcardOneLabel, "*."+string(h[dot+1:]))
		}
	}
	if !t.wildAny.empty() {
		for s := h; ; {
			i := indexByte(s, '.')
			if i < 0 {
				break
			}
			s = s[i+1:]
			if ht, ok := t.wildAny.lookup(s); ok {
				if tr == nil {
					return ht
				}
				tr.host(ht, HostWildcardAnyLabels, "*."+string(s))
			}
		}
	}
	if tr == nil {
		return t.any
	}
	tr.host(t.any, HostAny, "")
	return tr.selected()
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// stripPort removes a ":port" suffix from a Host header value, leaving IPv6
// literals in brackets intact.
func stripPort(host string) string {
	i := strings.LastIndexByte(host, ':')
	if i < 0 {
		return host
	}
	if j := strings.LastIndexByte(host, ']'); j > i {
		return host
	}
	if host[0] != '[' && strings.IndexByte(host, ':') != i {
		return host // bare IPv6 without brackets: no port
	}
	return host[:i]
}
