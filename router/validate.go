package router

import (
	"fmt"
	"regexp"
)

// routeRegexes are a Route's regular expressions, compiled by Validate and
// reused by Compile. Each keeps the source it was compiled from, so a Route
// changed after Validate is compiled afresh rather than served stale.
type routeRegexes struct {
	path    *regexp.Regexp
	rewrite *regexp.Regexp
	headers []*regexp.Regexp // by index in Headers; nil for plain values
	query   []*regexp.Regexp // by index in QueryParams
}

// Validate is the one check of what Compile cannot serve in a route: its
// regular expressions (the path, header and query values, the path
// rewrite), which must be RE2. Translation calls it on every route it
// makes, so that an invalid one is reported on the object it came from;
// the compiled expressions are kept in r and reused by Compile, which
// validates only routes nobody validated before and leaves out (and
// reports, see Table.Dropped) those that fail.
func (r *Route) Validate() error {
	var rx routeRegexes
	any := false
	if r.PathMatch == PathRegularExpression {
		re, err := regexp.Compile(anchored(r.Path))
		if err != nil {
			return fmt.Errorf("path regular expression %q: %w", r.Path, err)
		}
		rx.path, any = re, true
	}
	if r.Rewrite != nil && r.Rewrite.Path != nil && r.Rewrite.Path.Regex != "" {
		re, err := regexp.Compile(r.Rewrite.Path.Regex)
		if err != nil {
			return fmt.Errorf("rewrite regular expression %q: %w", r.Rewrite.Path.Regex, err)
		}
		rx.rewrite, any = re, true
	}
	var err error
	if rx.headers, err = valueRegexes(r.Headers, "header"); err != nil {
		return err
	}
	if rx.query, err = valueRegexes(r.QueryParams, "query parameter"); err != nil {
		return err
	}
	if any || rx.headers != nil || rx.query != nil {
		r.regexes = &rx
	}
	return nil
}

func valueRegexes(ms []ValueMatch, what string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for i, m := range ms {
		if !m.Regex {
			continue
		}
		re, err := regexp.Compile(m.Value)
		if err != nil {
			return nil, fmt.Errorf("%s %s regular expression %q: %w", what, m.Name, m.Value, err)
		}
		if out == nil {
			out = make([]*regexp.Regexp, len(ms))
		}
		out[i] = re
	}
	return out, nil
}

// anchored makes a path expression match the whole path.
func anchored(expr string) string { return "^(?:" + expr + ")$" }

// compiledRegexes returns the route's expressions as Validate compiled
// them, validating afresh when it was never called or the route changed
// since; it returns the validation error otherwise.
func (r *Route) compiledRegexes() (*routeRegexes, error) {
	if rx := r.regexes; rx == nil && !r.hasRegexes() || rx != nil && rx.current(r) {
		return rx, nil
	}
	c := *r
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c.regexes, nil
}

func (r *Route) hasRegexes() bool {
	if r.PathMatch == PathRegularExpression || r.Rewrite != nil && r.Rewrite.Path != nil && r.Rewrite.Path.Regex != "" {
		return true
	}
	for _, m := range r.Headers {
		if m.Regex {
			return true
		}
	}
	for _, m := range r.QueryParams {
		if m.Regex {
			return true
		}
	}
	return false
}

// current reports whether rx was compiled from r as it is now.
func (rx *routeRegexes) current(r *Route) bool {
	if (rx.path != nil) != (r.PathMatch == PathRegularExpression) ||
		rx.path != nil && rx.path.String() != anchored(r.Path) {
		return false
	}
	rw := ""
	if r.Rewrite != nil && r.Rewrite.Path != nil {
		rw = r.Rewrite.Path.Regex
	}
	if (rx.rewrite != nil) != (rw != "") || rx.rewrite != nil && rx.rewrite.String() != rw {
		return false
	}
	return valuesCurrent(rx.headers, r.Headers) && valuesCurrent(rx.query, r.QueryParams)
}

func valuesCurrent(res []*regexp.Regexp, ms []ValueMatch) bool {
	if res == nil {
		for _, m := range ms {
			if m.Regex {
				return false
			}
		}
		return true
	}
	if len(res) != len(ms) {
		return false
	}
	for i, m := range ms {
		if (res[i] != nil) != m.Regex || res[i] != nil && res[i].String() != m.Value {
			return false
		}
	}
	return true
}
