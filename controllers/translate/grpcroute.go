package translate

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portico-dev/portico/router"
)

const kindGRPC = "GRPCRoute"

// grpcRoutes attaches GRPCRoutes, oldest first. A gRPC call is an HTTP/2
// POST to /package.Service/Method, so they become HTTP routes on the same
// listeners, with h2c to backends.
func (t *gatewayProcessor) grpcRoutes(gateways map[nsName]*gatewayState) {
	routes := make([]*gatewayv1.GRPCRoute, 0, len(t.snap.GRPCRoutes))
	for i := range t.snap.GRPCRoutes {
		routes = append(routes, &t.snap.GRPCRoutes[i])
	}
	sortOldestFirst(routes)
	for _, gr := range routes {
		in := routeInput{ref: ObjectRef{Kind: kindGRPC, Namespace: gr.Namespace, Name: gr.Name}, gen: gr.Generation,
			parentRefs: gr.Spec.ParentRefs, hostnames: gr.Spec.Hostnames}
		refs := make([][]gatewayv1.BackendRef, len(gr.Spec.Rules))
		for i, rule := range gr.Spec.Rules {
			for _, b := range rule.BackendRefs {
				refs[i] = append(refs[i], b.BackendRef)
			}
		}
		backends, resolved := t.ruleBackends(in, refs, router.H2C)
		rules, err := t.grpcRouteRules(gr, backends, resolved)
		emit := func(a attachment) { t.emitRoutes(a, rules); t.usePolicies(a.ls.gw, backends) }
		if st := t.attachRoute(in, emit, acceptedFor(err, in.gen), resolved.resolved, gateways); st != nil {
			t.res.GRPCRoutes = append(t.res.GRPCRoutes, *st)
		}
	}
	slices.SortFunc(t.res.GRPCRoutes, func(a, b RouteStatus) int {
		return cmp.Or(cmp.Compare(a.Ref.Namespace, b.Ref.Namespace), cmp.Compare(a.Ref.Name, b.Ref.Name))
	})
}

func (t *gatewayProcessor) grpcRouteRules(gr *gatewayv1.GRPCRoute, backends [][]router.WeightedBackend, refs *refState) ([]ruleRoutes, error) {
	var out []ruleRoutes
	for ri, rule := range gr.Spec.Rules {
		field := fmt.Sprintf("spec.rules[%d]", ri)
		var filters ruleFilters
		for fi, f := range rule.Filters {
			switch f.Type {
			case gatewayv1.GRPCRouteFilterRequestHeaderModifier:
				filters.request = mergeHeaderOps(filters.request, f.RequestHeaderModifier)
			case gatewayv1.GRPCRouteFilterResponseHeaderModifier:
				filters.response = mergeHeaderOps(filters.response, f.ResponseHeaderModifier)
			case gatewayv1.GRPCRouteFilterRequestMirror:
				if f.RequestMirror == nil {
					return nil, fmt.Errorf("%s.filters[%d]: requestMirror is missing", field, fi)
				}
				be := t.backendRef(gr.Namespace, kindGRPC, f.RequestMirror.BackendRef,
					fmt.Sprintf("%s.filters[%d].requestMirror.backendRef", field, fi), refs.fail)
				if be.Status == 0 && be.Protocol != router.H2C {
					be = t.backends.withProtocol(be, router.H2C)
				}
				filters.mirrors = append(filters.mirrors, router.Mirror{Backend: be, Fraction: mirrorFraction(f.RequestMirror)})
			case gatewayv1.GRPCRouteFilterExtensionRef:
				// A policy named here is attached to the rule (see
				// attacher.effective); nothing else is an extension.
				if !isPolicyRef(f.ExtensionRef) {
					return nil, fmt.Errorf("%s.filters[%d]: extensionRef must name a %s or %s (group %s)", field, fi,
						KindSecurityPolicy, KindTrafficPolicy, porticoGroup)
				}
			default:
				return nil, fmt.Errorf("%s.filters[%d]: filter type %s is not supported yet", field, fi, f.Type)
			}
		}
		for bi, b := range rule.BackendRefs {
			if len(b.Filters) > 0 {
				return nil, fmt.Errorf("%s.backendRefs[%d].filters: filters are not supported yet", field, bi)
			}
		}
		matches := rule.Matches
		if len(matches) == 0 {
			matches = []gatewayv1.GRPCRouteMatch{{}}
		}
		var rr ruleRoutes
		for mi, m := range matches {
			r, err := grpcMatchRoute(m)
			if err != nil {
				return nil, fmt.Errorf("%s.matches[%d]: %w", field, mi, err)
			}
			filters.apply(&r)
			r.Backends = backends[ri]
			r.Source = router.Source{Kind: kindGRPC, Namespace: gr.Namespace, Name: gr.Name, Rule: ri, Path: mi}
			rr.routes = append(rr.routes, r)
		}
		out = append(out, rr)
	}
	return out, nil
}

// grpcMatchRoute turns a service/method match into a path match: Exact
// service and method is the exact path; a service alone is the prefix
// /service/; otherwise a regular expression over /service/method.
func grpcMatchRoute(m gatewayv1.GRPCRouteMatch) (router.Route, error) {
	r := router.Route{Path: "/", PathMatch: router.PathPrefix}
	if mm := m.Method; mm != nil {
		service, method := deref(mm.Service), deref(mm.Method)
		regex := mm.Type != nil && *mm.Type == gatewayv1.GRPCMethodMatchRegularExpression
		switch {
		case !regex && service != "" && method != "":
			r.Path, r.PathMatch = "/"+service+"/"+method, router.PathExact
		case !regex && service != "":
			r.Path = "/" + service + "/"
		case !regex && method != "":
			r.Path, r.PathMatch = "/[^/]+/"+regexp.QuoteMeta(method), router.PathRegularExpression
		case regex:
			if service == "" {
				service = "[^/]+"
			}
			if method == "" {
				method = "[^/]+"
			}
			r.Path, r.PathMatch = "/(?:"+service+")/(?:"+method+")", router.PathRegularExpression
		}
	}
	headers := valueMatchSet{kind: "header", foldCase: true}
	for _, h := range m.Headers {
		headers.add(string(h.Name), h.Value, h.Type != nil && *h.Type == gatewayv1.GRPCHeaderMatchRegularExpression)
	}
	r.Headers = headers.out
	if err := r.Validate(); err != nil {
		return r, fmt.Errorf("service or method match: %w", err)
	}
	return r, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
