package translate

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portico-dev/portico/router"
)

// httpRoutes attaches HTTPRoutes, oldest first, to our Gateways'
// listeners and emits their routes and status.
func (t *translator) httpRoutes(gateways map[nsName]*gatewayState) {
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

// attachment is one listener a route attached to, with the hostnames it
// serves there.
type attachment struct {
	ls        *listenerState
	hostnames []string
}

func (t *translator) httpRoute(hr *gatewayv1.HTTPRoute, gateways map[nsName]*gatewayState) {
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

// routeInput is what attachment needs of any route kind.
type routeInput struct {
	ref        ObjectRef
	gen        int64
	parentRefs []gatewayv1.ParentReference
	hostnames  []gatewayv1.Hostname
}

// acceptedFor is the route's own Accepted condition given the error of
// converting its rules.
func acceptedFor(err error, gen int64) metav1.Condition {
	if err == nil {
		return condition(string(gatewayv1.RouteConditionAccepted), true, string(gatewayv1.RouteReasonAccepted), "route accepted", gen)
	}
	reason := gatewayv1.RouteReasonUnsupportedValue
	if errors.Is(err, errIncompatible) {
		reason = gatewayv1.RouteReasonIncompatibleFilters
	}
	return condition(string(gatewayv1.RouteConditionAccepted), false, string(reason), err.Error(), gen)
}

// attachRoute attaches a route to the parents that are our Gateways,
// emits its routes on the listeners that accept it, and returns its status
// (nil when no parent is ours).
func (t *translator) attachRoute(in routeInput, emit func(attachment), accepted, resolved metav1.Condition,
	gateways map[nsName]*gatewayState) *RouteStatus {
	st := RouteStatus{Ref: in.ref}
	for _, pr := range in.parentRefs {
		if (pr.Group != nil && *pr.Group != gatewayGroup) || (pr.Kind != nil && *pr.Kind != kindGateway) {
			continue
		}
		ns := in.ref.Namespace
		if pr.Namespace != nil {
			ns = string(*pr.Namespace)
		}
		gs, ok := gateways[nsName{ns, string(pr.Name)}]
		if !ok {
			continue // not a Gateway of ours: its controller reports
		}
		cond, atts := t.attach(in, pr, gs)
		if cond.Status == metav1.ConditionTrue && accepted.Status == metav1.ConditionFalse {
			cond = accepted
		}
		if cond.Status == metav1.ConditionTrue {
			for _, a := range atts {
				emit(a)
			}
		}
		st.Parents = append(st.Parents, gatewayv1.RouteParentStatus{
			ParentRef:      pr,
			ControllerName: gatewayv1.GatewayController(t.opts.GatewayControllerName),
			Conditions:     []metav1.Condition{cond, resolved},
		})
	}
	if len(st.Parents) == 0 {
		return nil
	}
	return &st
}

// attach finds the listeners of gs a parentRef selects and that accept the
// route, counting the attachment on each.
func (t *translator) attach(in routeInput, pr gatewayv1.ParentReference, gs *gatewayState) (metav1.Condition, []attachment) {
	gen := in.gen
	var candidates []*listenerState
	for _, ls := range gs.listeners {
		if pr.SectionName != nil && *pr.SectionName != ls.spec.Name {
			continue
		}
		if pr.Port != nil && *pr.Port != ls.spec.Port {
			continue
		}
		candidates = append(candidates, ls)
	}
	if len(candidates) == 0 {
		return condition(string(gatewayv1.RouteConditionAccepted), false, string(gatewayv1.RouteReasonNoMatchingParent),
			"no listener of the Gateway matches the parentRef's sectionName and port", gen), nil
	}
	var atts []attachment
	allowed, matched := false, false
	for _, ls := range candidates {
		attachable := ls.valid || ls.unresolved && ls.conflict == ""
		if !attachable || !t.allowsNamespace(gs.gw, ls.spec, in.ref.Namespace) || !allowsKind(ls.kinds, in.ref.Kind) {
			continue
		}
		allowed = true
		// Only a route that attaches (its hostnames intersect the
		// listener's) counts in attachedRoutes; a listener that is not
		// programmed counts it without serving it.
		if hosts, ok := intersectHostnames(hostnameOf(ls.spec.Hostname), in.hostnames); ok {
			ls.attached++
			matched = true
			// Hosts that a more specific listener on the port owns are
			// that listener's alone (listener isolation).
			own := isolate(gs, ls, hosts)
			if ls.valid && (len(own) > 0 || len(hosts) == 0) {
				atts = append(atts, attachment{ls: ls, hostnames: own})
			}
		}
	}
	switch {
	case !allowed:
		return condition(string(gatewayv1.RouteConditionAccepted), false, string(gatewayv1.RouteReasonNotAllowedByListeners),
			"no listener selected by the parentRef allows this route (namespace or kind)", gen), nil
	case !matched:
		return condition(string(gatewayv1.RouteConditionAccepted), false, string(gatewayv1.RouteReasonNoMatchingListenerHostname),
			"no hostname of the route matches a listener's hostname", gen), nil
	}
	return condition(string(gatewayv1.RouteConditionAccepted), true, string(gatewayv1.RouteReasonAccepted), "route accepted", gen), atts
}

func allowsKind(kinds []gatewayv1.RouteGroupKind, kind string) bool {
	for _, k := range kinds {
		if string(k.Kind) == kind {
			return true
		}
	}
	return false
}

// intersectHostnames applies the Gateway API hostname rules: a listener
// without hostname takes the route's; a route without hostnames takes the
// listener's; otherwise the names that match both, the more specific of
// each matching pair. ok is false when nothing intersects. An empty result
// with ok means any host.
func intersectHostnames(listener string, route []gatewayv1.Hostname) ([]string, bool) {
	if len(route) == 0 {
		if listener == "" {
			return nil, true
		}
		return []string{listener}, true
	}
	var out []string
	for _, h := range route {
		name := strings.ToLower(string(h))
		switch {
		case listener == "" || name == listener:
			out = append(out, name)
		case hostMatchesWildcard(name, listener):
			out = append(out, name)
		case hostMatchesWildcard(listener, name):
			out = append(out, listener)
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	return out, len(out) > 0
}

// hostMatchesWildcard reports whether name (exact, or a narrower wildcard)
// falls under the wildcard pattern "*.suffix", which matches one or more
// labels.
func hostMatchesWildcard(name, pattern string) bool {
	if !strings.HasPrefix(pattern, "*.") {
		return false
	}
	suffix := pattern[1:] // ".example.com"
	base := strings.TrimPrefix(name, "*")
	return strings.HasSuffix(base, suffix) && len(base) > len(suffix)
}

// ruleRoutes are the router routes of one rule, before a host and listener
// are set.
type ruleRoutes struct {
	routes []router.Route
}

// httpRouteRules turns every rule's matches into router routes sharing the
// rule's backends. Unsupported features reject the whole route.
func (t *translator) httpRouteRules(hr *gatewayv1.HTTPRoute, backends [][]router.WeightedBackend, refs *refState) ([]ruleRoutes, error) {
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
		timeout, backendTimeout, err := ruleTimeouts(rule.Timeouts)
		if err != nil {
			return nil, fmt.Errorf("spec.rules[%d].timeouts: %w", ri, err)
		}
		retry, err := ruleRetry(rule.Retry)
		if err != nil {
			return nil, fmt.Errorf("spec.rules[%d].retry: %w", ri, err)
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
			r.Timeout, r.BackendTimeout, r.Retry = timeout, backendTimeout, retry
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
		if err := headers.add(string(h.Name), h.Value, h.Type != nil && *h.Type == gatewayv1.HeaderMatchRegularExpression); err != nil {
			return r, err
		}
	}
	query := valueMatchSet{kind: "query parameter"}
	for _, q := range m.QueryParams {
		if err := query.add(string(q.Name), q.Value, q.Type != nil && *q.Type == gatewayv1.QueryParamMatchRegularExpression); err != nil {
			return r, err
		}
	}
	r.Headers, r.QueryParams = headers.out, query.out
	return r, r.Validate()
}

// emitRoutes adds a rule's routes for each hostname of an attachment.
func (t *translator) emitRoutes(a attachment, rules []ruleRoutes) {
	for _, rr := range rules {
		for _, base := range rr.routes {
			for _, h := range a.hostsOrAny() {
				r := base
				r.Listener, r.ListenerPort = a.ls.key, a.ls.spec.Port
				r.Host, r.HostMatch = h, gatewayHostMatch(h)
				t.res.Config.Routes = append(t.res.Config.Routes, r)
			}
		}
	}
}

// gatewayHostMatch is how a Gateway API hostname matches: "" any host,
// "*.x" one or more labels, else exactly.
func gatewayHostMatch(h string) router.HostMatch {
	switch {
	case h == "":
		return router.HostAny
	case strings.HasPrefix(h, "*."):
		return router.HostWildcardAnyLabels
	}
	return router.HostExact
}

// hostsOrAny is the attachment's hostnames, or the one "" (any host).
func (a attachment) hostsOrAny() []string {
	if len(a.hostnames) == 0 {
		return []string{""}
	}
	return a.hostnames
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
// the first of equivalent names as the spec says, and checks regular
// expressions.
type valueMatchSet struct {
	kind     string
	foldCase bool // header names compare case-insensitively
	seen     map[string]bool
	out      []router.ValueMatch
}

func (s *valueMatchSet) add(name, value string, regex bool) error {
	key := name
	if s.foldCase {
		key = strings.ToLower(name)
	}
	if s.seen[key] {
		return nil
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[key] = true
	s.out = append(s.out, router.ValueMatch{Name: name, Value: value, Regex: regex})
	return nil
}

// isolate drops the hosts that another valid listener of the Gateway on the
// same port owns with a more specific hostname: requests for them go to that
// listener's routes only, so a route of a broader listener must not serve
// them (the router's host claims isolate the rest).
func isolate(gs *gatewayState, ls *listenerState, hosts []string) []string {
	mine := hostnameOf(ls.spec.Hostname)
	out := hosts[:0:0]
	for _, h := range hosts {
		owned := false
		for _, o := range gs.listeners {
			theirs := hostnameOf(o.spec.Hostname)
			if o == ls || !o.valid || o.spec.Port != ls.spec.Port || theirs == "" || !moreSpecific(theirs, mine) {
				continue
			}
			if h == theirs || strings.HasPrefix(theirs, "*.") && hostMatchesWildcard(h, theirs) {
				owned = true
				break
			}
		}
		if !owned {
			out = append(out, h)
		}
	}
	return out
}

// moreSpecific orders listener hostnames: exact over wildcard, a wildcard
// with more labels over one with fewer, anything over none.
func moreSpecific(a, b string) bool {
	switch {
	case b == "":
		return a != ""
	case a == "":
		return false
	}
	aw, bw := strings.HasPrefix(a, "*."), strings.HasPrefix(b, "*.")
	if aw != bw {
		return !aw
	}
	return strings.Count(a, ".") > strings.Count(b, ".")
}
