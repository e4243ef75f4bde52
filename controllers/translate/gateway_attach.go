package translate

import (
	"errors"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portico-dev/portico/router"
)

// attachment is one listener a route attached to, with the hostnames it
// serves there.
type attachment struct {
	ls        *listenerState
	hostnames []string
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
func (t *gatewayProcessor) attachRoute(in routeInput, emit func(attachment), accepted, resolved metav1.Condition,
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
func (t *gatewayProcessor) attach(in routeInput, pr gatewayv1.ParentReference, gs *gatewayState) (metav1.Condition, []attachment) {
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

// emitRoutes adds a rule's routes for each hostname of an attachment.
func (t *gatewayProcessor) emitRoutes(a attachment, rules []ruleRoutes) {
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
