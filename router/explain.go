package router

import (
	"cmp"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// ExplainRequest is a request to explain: what the Router reads of a
// request to route it.
type ExplainRequest struct {
	// Listener is the listener key ("" for the shared Ingress listeners).
	Listener string
	// Host is the Host header value, any case, with or without port.
	Host string
	// Path is the escaped path as sent; Explain canonicalises it as the
	// Router does (escaped slashes kept).
	Path     string
	Method   string
	Header   http.Header
	RawQuery string
	// TLS says the request arrives over TLS, with SNI as the server name
	// (the Host when empty); a passthrough route for it takes the
	// connection before any HTTP is read.
	TLS bool
	SNI string
}

// Explanation is the decision trace of one lookup: which host tables of the
// listener match the host, which routes were tried and why each did or did
// not match, and the route that serves the request. It is built by the
// same code that routes requests (Explain and Lookup share it), so the two
// cannot disagree.
type Explanation struct {
	Listener string
	// Host is the host as compared (lower case, without port and trailing
	// dot); Path the canonical path, or PathError when it has none.
	Host, Path string
	PathError  string
	// Passthrough, when set, is the TLS passthrough route that forwards
	// the connection unterminated; no HTTP route is consulted then.
	Passthrough *CompiledL4
	// Hosts are the listener's host tables that match Host, most specific
	// first: the first serves the request and shadows the others (Lookup
	// never falls back to a less specific host). Empty when none does.
	Hosts []HostCandidate
	// Candidates are the selected host's routes: first those Lookup tried,
	// in the order it tried them, then the rest in precedence order.
	Candidates []Candidate
	// Winner serves the request; nil answers 404.
	Winner *CompiledRoute
	// Default says Winner is the default route: nothing of the selected
	// host matched (or no host did) on the shared listener.
	Default bool
}

// HostCandidate is one host table that matches a request's host.
type HostCandidate struct {
	Match HostMatch
	// Pattern is the host as configured: "foo.com", "*.foo.com", or ""
	// for the rules without host.
	Pattern string
	// Routes counts the routes filed under the host.
	Routes int
}

// Candidate is one route of the selected host and the verdict on it.
type Candidate struct {
	Route *CompiledRoute
	// Tried says Lookup evaluated the route; Matched that it accepts the
	// request (only the first route tried that matches serves it).
	Tried, Matched bool
	// Reason says why the route does or does not serve the request.
	Reason string
}

// lookupTrace records a lookup's decisions for Explain. Its methods do
// nothing on a nil receiver, which is what serving passes.
type lookupTrace struct {
	hosts []HostCandidate
	sel   []*hostTable // parallel to hosts
	steps []Candidate
}

func (tr *lookupTrace) host(ht *hostTable, m HostMatch, pattern string) {
	if tr == nil || ht == nil {
		return
	}
	tr.hosts = append(tr.hosts, HostCandidate{Match: m, Pattern: pattern, Routes: ht.count()})
	tr.sel = append(tr.sel, ht)
}

// selected is the host table Lookup serves from: the first recorded.
func (tr *lookupTrace) selected() *hostTable {
	if len(tr.sel) == 0 {
		return nil
	}
	return tr.sel[0]
}

func (tr *lookupTrace) tried(r *CompiledRoute, m mismatchKind) {
	if tr != nil {
		tr.steps = append(tr.steps, Candidate{Route: r, Tried: true, Matched: m == matched})
	}
}

// explainView is the Request an ExplainRequest is matched as.
type explainView struct{ r *ExplainRequest }

func (v explainView) Method() string { return v.r.Method }

func (v explainView) Header(name string) (string, bool) {
	if vs := v.r.Header.Values(name); len(vs) > 0 {
		return vs[0], true
	}
	return "", false
}

func (v explainView) Query(name string) (string, bool) { return queryValue(v.r.RawQuery, name) }

// Explain traces how the Table routes req. It allocates, unlike Lookup,
// and is meant for tools (portico explain, /debug/explain).
func (t *Table) Explain(req ExplainRequest) Explanation {
	if req.Method == "" {
		req.Method = http.MethodGet
	}
	e := Explanation{Listener: req.Listener, Host: strings.ToLower(strings.TrimSuffix(stripPort(req.Host), "."))}
	if req.Path == "" {
		req.Path = "/"
	}
	path, ok := CanonicalPath(req.Path)
	if !ok {
		e.PathError = "malformed request path: answered 400"
		return e
	}
	e.Path = path
	if req.TLS {
		sni := req.SNI
		if sni == "" {
			sni = e.Host
		}
		if p := t.PassthroughOn(req.Listener, sni); p != nil {
			e.Passthrough = p
			return e
		}
	}
	var mreq Request
	view := explainView{&req}
	if t.NeedsRequest() {
		mreq = view
	}
	tr := &lookupTrace{}
	e.Winner = t.lookupOn(req.Listener, req.Host, path, mreq, tr)
	e.Hosts = tr.hosts
	e.Default = e.Winner != nil && e.Winner == t.def
	tried := map[*CompiledRoute]bool{}
	for _, c := range tr.steps {
		tried[c.Route] = true
		c.Reason = c.Route.verdict(path, view, e.Winner)
		e.Candidates = append(e.Candidates, c)
	}
	if ht := tr.selected(); ht != nil {
		for _, r := range ht.ordered() {
			if !tried[r] {
				e.Candidates = append(e.Candidates, Candidate{Route: r, Matched: r.pathMatches(path) && r.acceptsView(path, view),
					Reason: r.untriedVerdict(path, view, e.Winner)})
			}
		}
	}
	return e
}

// ordered lists the host's routes in the order Lookup would consider them
// for every path: exact paths (sorted), regular expressions, then prefixes
// from the longest.
func (ht *hostTable) ordered() []*CompiledRoute {
	var out []*CompiledRoute
	for _, k := range slices.Sorted(maps.Keys(ht.exact)) {
		out = append(out, ht.exact[k]...)
	}
	out = append(out, ht.regex...)
	keys := slices.Collect(maps.Keys(ht.prefix))
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), cmp.Compare(a, b)) })
	for _, k := range keys {
		out = append(out, ht.prefix[k]...)
	}
	return out
}

// pathMatches reports whether the route's path (kind and value) accepts
// path, as the host table's index does.
func (r *CompiledRoute) pathMatches(path string) bool {
	switch r.PathMatch {
	case PathExact:
		return r.Path == path
	case PathRegularExpression:
		return strings.HasPrefix(path, r.pathLit) && r.pathRe.MatchString(path)
	}
	k := prefixKey(r.Path)
	return k == "/" || path == k || strings.HasPrefix(path, k+"/")
}

func (r *CompiledRoute) acceptsView(path string, v explainView) bool {
	m, _ := r.mismatch(path, v)
	return m == matched
}
