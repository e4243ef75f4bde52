package router

import (
	"cmp"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Request is what route matching reads of a request beyond host and path.
// Implementations return the first value of a header (name in canonical
// MIME form) or query parameter, and whether there was one.
type Request interface {
	Method() string
	Header(canonicalName string) (string, bool)
	Query(name string) (string, bool)
}

// compiledMatch is a ValueMatch ready to evaluate.
type compiledMatch struct {
	name   string
	value  string
	re     *regexp.Regexp
	invert bool
}

func (m *compiledMatch) matches(v string) bool {
	if m.re != nil {
		return m.re.MatchString(v)
	}
	return v == m.value
}

// compileMatches prepares the route's matches from its compiled regular
// expressions (see Validate) and canonical header names.
func (r *CompiledRoute) compileMatches(rx *routeRegexes) {
	if rx == nil {
		rx = &routeRegexes{}
	}
	if rx.path != nil {
		r.pathRe = rx.path
		// A literal prefix (as every Istio prefix match has) rejects most
		// paths without running the expression.
		r.pathLit, _ = rx.path.LiteralPrefix()
	}
	r.rewriteRe = rx.rewrite
	r.headers = compileValueMatches(r.Headers, rx.headers, true)
	r.query = compileValueMatches(r.QueryParams, rx.query, false)
}

func compileValueMatches(ms []ValueMatch, res []*regexp.Regexp, header bool) []compiledMatch {
	out := make([]compiledMatch, 0, len(ms))
	for i, m := range ms {
		cm := compiledMatch{name: m.Name, value: m.Value, invert: m.Invert}
		if header {
			cm.name = textproto.CanonicalMIMEHeaderKey(m.Name)
		}
		if res != nil {
			cm.re = res[i]
		}
		out = append(out, cm)
	}
	return out
}

func (r *CompiledRoute) hasPredicates() bool {
	return r.Method != "" || len(r.headers) > 0 || len(r.query) > 0
}

// sameMatch reports whether two routes of one host match exactly the same
// requests by construction.
func (r *CompiledRoute) sameMatch(o *CompiledRoute) bool {
	return r.PathMatch == o.PathMatch && prefixKey(r.Path) == prefixKey(o.Path) && r.Method == o.Method &&
		slices.Equal(r.Headers, o.Headers) && slices.Equal(r.QueryParams, o.QueryParams)
}

// covers reports whether r, tried before o in configuration order (regex
// routes, such as every Istio match), matches every request o matches, so
// that o never matches: r has no predicates and its expression is a
// literal prefix followed by ".*" (an Istio prefix match, or ".*" for a
// rule without match) that o's literal prefix starts with.
func (r *CompiledRoute) covers(o *CompiledRoute) bool {
	if r.pathRe == nil || o.pathRe == nil || r.hasPredicates() || !strings.HasPrefix(o.pathLit, r.pathLit) {
		return false
	}
	return r.Path == regexp.QuoteMeta(r.pathLit)+".*"
}

// precedence orders routes of one path: a method match first, then more
// header matches, then more query matches; ties keep configuration order
// (the caller sorts stably).
func precedence(a, b *CompiledRoute) int {
	am, bm := a.Method != "", b.Method != ""
	if am != bm {
		if am {
			return -1
		}
		return 1
	}
	return cmp.Or(cmp.Compare(len(b.headers), len(a.headers)), cmp.Compare(len(b.query), len(a.query)))
}

// firstMatch returns the first candidate whose predicates accept the
// request, recording each candidate tried in tr (when not nil).
func firstMatch(cands []*CompiledRoute, path string, req Request, tr *lookupTrace) *CompiledRoute {
	for _, r := range cands {
		m, _ := r.mismatch(path, req)
		tr.tried(r, m)
		if m == matched {
			return r
		}
	}
	return nil
}

// mismatchKind says which part of a route's match rejected a request.
type mismatchKind uint8

const (
	matched mismatchKind = iota
	missPathRegex
	missNoRequest // predicates, but no request view to evaluate them on
	missMethod
	missHeader // the i-th header match
	missQuery  // the i-th query match
)

// mismatch evaluates the route's path expression and predicates on a
// request whose path already selected the route: matched, or the first
// part that failed (and its index among the header or query matches).
func (r *CompiledRoute) mismatch(path string, req Request) (mismatchKind, int) {
	if r.pathRe != nil && (!strings.HasPrefix(path, r.pathLit) || !r.pathRe.MatchString(path)) {
		return missPathRegex, 0
	}
	if !r.hasPredicates() {
		return matched, 0
	}
	if req == nil {
		return missNoRequest, 0
	}
	if r.Method != "" && req.Method() != r.Method {
		return missMethod, 0
	}
	for i := range r.headers {
		v, ok := req.Header(r.headers[i].name)
		if (ok && r.headers[i].matches(v)) == r.headers[i].invert {
			return missHeader, i
		}
	}
	for i := range r.query {
		v, ok := req.Query(r.query[i].name)
		if !ok || !r.query[i].matches(v) {
			return missQuery, i
		}
	}
	return matched, 0
}

// httpRequest adapts an *http.Request for matching.
type httpRequest struct {
	r *http.Request
}

func (h *httpRequest) Method() string { return h.r.Method }

func (h *httpRequest) Header(name string) (string, bool) {
	if v := h.r.Header[name]; len(v) > 0 {
		return v[0], true
	}
	return "", false
}

func (h *httpRequest) Query(name string) (string, bool) { return queryValue(h.r.URL.RawQuery, name) }

// queryValue finds the first value of name in a raw query string, decoding
// as url.ParseQuery does, without building the whole map.
func queryValue(raw, name string) (string, bool) {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" || strings.Contains(pair, ";") {
			continue // url.ParseQuery rejects ';' separators too
		}
		k, v, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(k, "%+") {
			var err error
			if k, err = url.QueryUnescape(k); err != nil {
				continue
			}
		}
		if k != name {
			continue
		}
		if strings.ContainsAny(v, "%+") {
			var err error
			if v, err = url.QueryUnescape(v); err != nil {
				continue
			}
		}
		return v, true
	}
	return "", false
}
