package translate

import (
	"cmp"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portico-dev/portico/router"
)

const (
	kindTLS = "TLSRoute"
	kindTCP = "TCPRoute"
)

// l4Input is a TLSRoute or TCPRoute: its attachment input, creation time
// and the backendRefs of every rule.
type l4Input struct {
	routeInput
	created metav1.Time
	rules   [][]gatewayv1.BackendRef
}

// l4Routes attaches TLSRoutes (passthrough by SNI on TLS listeners) and
// TCPRoutes (every connection of a TCP listener), oldest first.
func (t *gatewayProcessor) l4Routes(gateways map[nsName]*gatewayState) {
	var ins []l4Input
	for i := range t.snap.TLSRoutes {
		r := &t.snap.TLSRoutes[i]
		in := l4Input{routeInput: routeInput{ref: ObjectRef{Kind: kindTLS, Namespace: r.Namespace, Name: r.Name}, gen: r.Generation,
			parentRefs: r.Spec.ParentRefs, hostnames: r.Spec.Hostnames}}
		in.created = r.CreationTimestamp
		for _, rule := range r.Spec.Rules {
			in.rules = append(in.rules, rule.BackendRefs)
		}
		ins = append(ins, in)
	}
	for i := range t.snap.TCPRoutes {
		r := &t.snap.TCPRoutes[i]
		in := l4Input{routeInput: routeInput{ref: ObjectRef{Kind: kindTCP, Namespace: r.Namespace, Name: r.Name}, gen: r.Generation,
			parentRefs: r.Spec.ParentRefs}}
		in.created = r.CreationTimestamp
		for _, rule := range r.Spec.Rules {
			in.rules = append(in.rules, rule.BackendRefs)
		}
		ins = append(ins, in)
	}
	slices.SortFunc(ins, func(a, b l4Input) int { return compareAge(a.created, a.ref, b.created, b.ref) })
	for _, in := range ins {
		backends, resolved := t.ruleBackends(in.routeInput, in.rules, router.HTTP1)
		var all []router.WeightedBackend
		for _, bs := range backends {
			all = append(all, bs...)
		}
		src := router.Source{Kind: in.ref.Kind, Namespace: in.ref.Namespace, Name: in.ref.Name, Rule: 0, Path: -1}
		emit := func(a attachment) {
			if in.ref.Kind == kindTCP {
				t.res.Config.TCP = append(t.res.Config.TCP, router.L4Route{Listener: a.ls.key, Backends: all, Source: src})
				return
			}
			for _, h := range a.hostsOrAny() {
				t.res.Config.Passthrough = append(t.res.Config.Passthrough, router.L4Route{
					Listener: a.ls.key, Host: h, HostMatch: gatewayHostMatch(h), Backends: all, Source: src})
			}
		}
		st := t.attachRoute(in.routeInput, emit, acceptedFor(nil, in.gen), resolved.resolved, gateways)
		if st == nil {
			continue
		}
		if in.ref.Kind == kindTCP {
			t.res.TCPRoutes = append(t.res.TCPRoutes, *st)
		} else {
			t.res.TLSRoutes = append(t.res.TLSRoutes, *st)
		}
	}
	byName := func(a, b RouteStatus) int {
		return cmp.Or(cmp.Compare(a.Ref.Namespace, b.Ref.Namespace), cmp.Compare(a.Ref.Name, b.Ref.Name))
	}
	slices.SortFunc(t.res.TLSRoutes, byName)
	slices.SortFunc(t.res.TCPRoutes, byName)
}
