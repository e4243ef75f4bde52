package router

import (
	"fmt"
	"strings"
)

// MatchText renders a route's match: path kind and value, then method,
// header and query matches, e.g. `Prefix /api header:env=canary`.
func (r *CompiledRoute) MatchText() string {
	parts := []string{r.PathMatch.String() + " " + r.Path}
	if r.Method != "" {
		parts = append(parts, "method="+r.Method)
	}
	for _, h := range r.Headers {
		parts = append(parts, valueMatchText("header", h))
	}
	for _, q := range r.QueryParams {
		parts = append(parts, valueMatchText("query", q))
	}
	return strings.Join(parts, " ")
}

func valueMatchText(kind string, m ValueMatch) string {
	op := "="
	if m.Regex {
		op = "~"
	}
	if m.Invert {
		op = "!" + op
	}
	return kind + ":" + m.Name + op + m.Value
}

// verdict explains a route Lookup tried.
func (r *CompiledRoute) verdict(path string, v explainView, winner *CompiledRoute) string {
	if r == winner {
		return "matches and serves the request"
	}
	return r.rejection(path, v)
}

// untriedVerdict explains a route of the selected host that Lookup did
// not try: its path does not match, its predicates do not, or a route
// of higher precedence served the request first.
func (r *CompiledRoute) untriedVerdict(path string, v explainView, winner *CompiledRoute) string {
	if !r.pathMatches(path) {
		switch r.PathMatch {
		case PathExact:
			return fmt.Sprintf("path: Exact %s is not %s", r.Path, path)
		case PathRegularExpression:
			return fmt.Sprintf("path: %s does not match the regular expression %s", path, r.Path)
		}
		return fmt.Sprintf("path: %s is not under the prefix %s", path, prefixKey(r.Path))
	}
	if why := r.rejection(path, v); why != "" {
		return why
	}
	if winner == nil {
		return "would match, but was not reached" // not expected: every matching path is tried
	}
	why := "it comes first in configuration order (the oldest object wins)"
	switch {
	case winner.Method != "" && r.Method == "":
		why = "a method match wins among routes of the same path"
	case len(winner.headers) > len(r.headers):
		why = "more header matches win among routes of the same path"
	case len(winner.query) > len(r.query):
		why = "more query matches win among routes of the same path"
	}
	switch {
	case winner.PathMatch == PathExact && r.PathMatch != PathExact:
		why = "an Exact path beats regular expressions and prefixes"
	case winner.PathMatch == PathRegularExpression && r.PathMatch == PathPrefix:
		why = "regular expressions are tried before prefixes"
	case winner.PathMatch == PathRegularExpression:
		why = "regular expressions are tried in configuration order"
	case winner.PathMatch == PathPrefix && r.PathMatch == PathPrefix && prefixKey(winner.Path) != prefixKey(r.Path):
		why = "the longest matching prefix wins"
	}
	return "would match, but " + winner.Source.String() + " serves the request: " + why
}

// rejection says which part of the route's match rejects the request,
// from the same evaluation Lookup makes (mismatch), or "" when none does.
func (r *CompiledRoute) rejection(path string, v explainView) string {
	m, i := r.mismatch(path, v)
	switch m {
	case matched:
		return ""
	case missPathRegex:
		return fmt.Sprintf("path: %s does not match the regular expression %s", path, r.Path)
	case missNoRequest:
		return "has method, header or query matches, but the table has none to evaluate"
	case missMethod:
		return fmt.Sprintf("method: wants %s, the request is %s", r.Method, v.Method())
	case missHeader:
		h := r.headers[i]
		got, ok := v.Header(h.name)
		return "header " + h.name + ": " + valueVerdict(h, got, ok)
	case missQuery:
		q := r.query[i]
		got, ok := v.Query(q.name)
		return "query " + q.name + ": " + valueVerdict(q, got, ok)
	}
	return "does not match"
}

func valueVerdict(m compiledMatch, got string, ok bool) string {
	want := fmt.Sprintf("equal %q", m.value)
	if m.re != nil {
		want = fmt.Sprintf("match %q", m.re.String())
	}
	switch {
	case m.invert:
		return fmt.Sprintf("must not %s, and %q does", want, got)
	case !ok:
		return "absent, must " + want
	}
	return fmt.Sprintf("%q does not %s", got, want)
}
