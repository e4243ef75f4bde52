package translate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portico-dev/portico/router"
)

// httpRoutes attaches HTTPRoutes, oldest first, to our Gateways'
// listeners and emits their routes and status.
func (t *gatewayProcessor) httpRoutes(gateways map[nsName]*gatewayState) {
	routes := make([]*gatewayv1.HTTPRoute, 0, len(t.snap.HTTPRoutes))
	for i := range t.snap.HTTPRoutes {
		routes = append(routes, &t.snap.HTTPRoutes[i])
	}
	sortOldestFirst(routes)
	for _, hr := range routes {
		t.httpRoute(hr, gateways)
	}
	slices.SortFunc(t.res.HTTPRoutes, func(a, b RouteStatus) int {
		return cmp.Or(cmp.Compare(a.Ref.Namespace, b.Ref.Namespace), cmp.Compare(a.Ref.Name, b.Ref.Name))
	})
}

func (t *gatewayProcessor) httpRoute(hr *gatewayv1.HTTPRoute, gateways map[nsName]*gatewayState) {
	in := routeInput{ref: ObjectRef{Kind: kindHTTP, Namespace: hr.Namespace, Name: hr.Name}, gen: hr.Generation,
		parentRefs: hr.Spec.ParentRefs, hostnames: hr.Spec.Hostnames}
	refs := make([][]gatewayv1.BackendRef, len(hr.Spec.Rules))
	for i, rule := range hr.Spec.Rules {
		for _, b := range rule.BackendRefs {
			refs[i] = append(refs[i], b.BackendRef)
		}
	}
	backends, resolved := t.ruleBackends(in, refs, router.HTTP1)
	rules, err := t.httpRouteRules(hr, backends, resolved)
	emit := func(a attachment) { t.emitRoutes(a, rules); t.usePolicies(a.ls.gw, backends) }
	if st := t.attachRoute(in, emit, acceptedFor(err, in.gen), resolved.resolved, gateways); st != nil {
		t.res.HTTPRoutes = append(t.res.HTTPRoutes, *st)
	}
}

// ruleRoutes are the router routes of one rule, before a host and listener
// are set.
type ruleRoutes struct {
	routes []router.Route
}

// httpRouteRules turns every rule's matches into router routes sharing the
// rule's backends. Unsupported features reject the whole route.
func (t *gatewayProcessor) httpRouteRules(hr *gatewayv1.HTTPRoute, backends [][]router.WeightedBackend, refs *refState) ([]ruleRoutes, error) {
	var out []ruleRoutes
	for ri, rule := range hr.Spec.Rules {
		filters, err := convertFilters(rule.Filters, fmt.Sprintf("spec.rules[%d]", ri))
		if err != nil {
			return nil, err
		}
		for mi, m := range filters.mirrorRefs {
			be := t.backendRef(hr.Namespace, kindHTTP, m.ref, fmt.Sprintf("spec.rules[%d].filters[%d].requestMirror.backendRef", ri, mi), refs.fail)
			filters.mirrors = append(filters.mirrors, router.Mirror{Backend: be, Fraction: m.fraction})
		}
		if f := filters.extAuth; f != nil {
			be := t.backendRef(hr.Namespace, kindHTTP, f.BackendRef, fmt.Sprintf("spec.rules[%d].filters.externalAuth.backendRef", ri), refs.fail)
			src := router.Source{Kind: kindHTTP, Namespace: hr.Namespace, Name: hr.Name, Rule: ri, Path: -1}
			filters.policy = externalAuthPolicy(f, be, hr.Namespace, "ExternalAuth "+src.String())
		}
		timeout, backendTimeout, err := ruleTimeouts(rule.Timeouts)
		if err != nil {
			return nil, fmt.Errorf("spec.rules[%d].timeouts: %w", ri, err)
		}
		retry, err := ruleRetry(rule.Retry)
		if err != nil {
			return nil, fmt.Errorf("spec.rules[%d].retry: %w", ri, err)
		}
		session, err := ruleSession(rule.SessionPersistence)
		if err != nil {
			return nil, fmt.Errorf("spec.rules[%d].sessionPersistence: %w", ri, err)
		}
		for bi, b := range rule.BackendRefs {
			if err := applyBackendFilters(&backends[ri][bi], b.Filters, fmt.Sprintf("spec.rules[%d].backendRefs[%d]", ri, bi)); err != nil {
				return nil, err
			}
		}
		matches := rule.Matches
		if len(matches) == 0 {
			matches = []gatewayv1.HTTPRouteMatch{{}}
		}
		var rr ruleRoutes
		for mi, m := range matches {
			r, err := matchRoute(m)
			if err != nil {
				return nil, fmt.Errorf("spec.rules[%d].matches[%d]: %w", ri, mi, err)
			}
			if r.PathMatch != router.PathPrefix && usesPrefixReplace(filters) {
				return nil, fmt.Errorf("spec.rules[%d].matches[%d]: ReplacePrefixMatch needs a PathPrefix match", ri, mi)
			}
			filters.apply(&r)
			r.Timeout, r.BackendTimeout, r.Retry, r.Session = timeout, backendTimeout, retry, session
			r.Backends = backends[ri]
			r.Source = router.Source{Kind: kindHTTP, Namespace: hr.Namespace, Name: hr.Name, Rule: ri, Path: mi}
			rr.routes = append(rr.routes, r)
		}
		out = append(out, rr)
	}
	return out, nil
}

// matchRoute converts one HTTPRouteMatch; no path means PathPrefix "/".
func matchRoute(m gatewayv1.HTTPRouteMatch) (router.Route, error) {
	r := router.Route{Path: "/", PathMatch: router.PathPrefix}
	if m.Path != nil {
		if m.Path.Value != nil {
			r.Path = *m.Path.Value
		}
		if m.Path.Type != nil {
			switch *m.Path.Type {
			case gatewayv1.PathMatchExact:
				r.PathMatch = router.PathExact
			case gatewayv1.PathMatchRegularExpression:
				r.PathMatch = router.PathRegularExpression
			}
		}
		if r.PathMatch != router.PathRegularExpression {
			if c, ok := router.CanonicalPath(r.Path); !ok || c != r.Path {
				return r, fmt.Errorf("path %q is not in canonical form", r.Path)
			}
		}
	}
	if m.Method != nil {
		r.Method = string(*m.Method)
	}
	headers := valueMatchSet{kind: "header", foldCase: true}
	for _, h := range m.Headers {
		headers.add(string(h.Name), h.Value, h.Type != nil && *h.Type == gatewayv1.HeaderMatchRegularExpression)
	}
	query := valueMatchSet{kind: "query parameter"}
	for _, q := range m.QueryParams {
		query.add(string(q.Name), q.Value, q.Type != nil && *q.Type == gatewayv1.QueryParamMatchRegularExpression)
	}
	r.Headers, r.QueryParams = headers.out, query.out
	return r, r.Validate()
}

func usesPrefixReplace(f ruleFilters) bool {
	return f.redirect != nil && f.redirect.Path != nil && f.redirect.Path.ReplacePrefix ||
		f.rewrite != nil && f.rewrite.Path != nil && f.rewrite.Path.ReplacePrefix
}

// ruleTimeouts parses a rule's request and backendRequest timeouts ("0s"
// means none).
func ruleTimeouts(t *gatewayv1.HTTPRouteTimeouts) (request, backend time.Duration, err error) {
	if t == nil {
		return 0, 0, nil
	}
	parse := func(d *gatewayv1.Duration) (time.Duration, error) {
		if d == nil {
			return 0, nil
		}
		return time.ParseDuration(string(*d))
	}
	if request, err = parse(t.Request); err != nil {
		return 0, 0, err
	}
	backend, err = parse(t.BackendRequest)
	return request, backend, err
}

// ruleRetry converts a rule's retry policy; with attempts unset Portico
// retries once.
func ruleRetry(r *gatewayv1.HTTPRouteRetry) (*router.Retry, error) {
	if r == nil {
		return nil, nil
	}
	out := &router.Retry{Attempts: 1}
	if r.Attempts != nil {
		out.Attempts = *r.Attempts
	}
	for _, c := range r.Codes {
		out.Codes = append(out.Codes, int(c))
	}
	if r.Backoff != nil {
		d, err := time.ParseDuration(string(*r.Backoff))
		if err != nil {
			return nil, fmt.Errorf("backoff: %w", err)
		}
		out.Backoff = d
	}
	return out, nil
}

// applyBackendFilters puts a backendRef's own header filters on its
// weighted backend; other filter types are not supported there yet.
func applyBackendFilters(wb *router.WeightedBackend, fs []gatewayv1.HTTPRouteFilter, field string) error {
	for i, f := range fs {
		switch f.Type {
		case gatewayv1.HTTPRouteFilterRequestHeaderModifier:
			wb.RequestHeaders = mergeHeaderOps(wb.RequestHeaders, f.RequestHeaderModifier)
		case gatewayv1.HTTPRouteFilterResponseHeaderModifier:
			wb.ResponseHeaders = mergeHeaderOps(wb.ResponseHeaders, f.ResponseHeaderModifier)
		default:
			return fmt.Errorf("%s.filters[%d]: filter type %s is not supported on a backendRef yet", field, i, f.Type)
		}
	}
	return nil
}

// valueMatchSet collects header or query-parameter matches, keeping only
// the first of equivalent names as the spec says (router.Route.Validate
// checks their regular expressions).
type valueMatchSet struct {
	kind     string
	foldCase bool // header names compare case-insensitively
	seen     map[string]bool
	out      []router.ValueMatch
}

func (s *valueMatchSet) add(name, value string, regex bool) {
	key := name
	if s.foldCase {
		key = strings.ToLower(name)
	}
	if s.seen[key] {
		return
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[key] = true
	s.out = append(s.out, router.ValueMatch{Name: name, Value: value, Regex: regex})
}
