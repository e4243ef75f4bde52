package translate

import (
	"errors"
	"fmt"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	portico "github.com/portico-dev/portico/api/v1alpha1"

	"github.com/portico-dev/portico/router"
)

// ruleFilters holds a rule's filters as router route fields.
type ruleFilters struct {
	request, response *router.HeaderOps
	redirect          *router.Redirect
	rewrite           *router.Rewrite
	cors              *router.CORS
	// mirrorRefs are resolved into mirrors by the caller, which knows the
	// route's namespace and reference state.
	mirrorRefs []mirrorRef
	mirrors    []router.Mirror
	// extAuth is the ExternalAuth filter, resolved by the caller into
	// policy.
	extAuth *gatewayv1.HTTPExternalAuthFilter
	policy  *router.Policy
}

type mirrorRef struct {
	ref      gatewayv1.BackendObjectReference
	fraction float64
}

// errIncompatible marks filter combinations the spec forbids.
var errIncompatible = errors.New("incompatible filters")

// convertFilters translates a rule's filters. Unsupported filter types are
// errors (the route is not accepted); so is a redirect combined with a
// rewrite.
func convertFilters(fs []gatewayv1.HTTPRouteFilter, field string) (ruleFilters, error) {
	var out ruleFilters
	for i, f := range fs {
		at := fmt.Sprintf("%s.filters[%d]", field, i)
		switch f.Type {
		case gatewayv1.HTTPRouteFilterRequestHeaderModifier:
			out.request = mergeHeaderOps(out.request, f.RequestHeaderModifier)
		case gatewayv1.HTTPRouteFilterResponseHeaderModifier:
			out.response = mergeHeaderOps(out.response, f.ResponseHeaderModifier)
		case gatewayv1.HTTPRouteFilterRequestRedirect:
			if f.RequestRedirect == nil {
				return out, fmt.Errorf("%s: requestRedirect is missing", at)
			}
			rd := f.RequestRedirect
			out.redirect = &router.Redirect{StatusCode: 302}
			if rd.Scheme != nil {
				out.redirect.Scheme = *rd.Scheme
			}
			if rd.Hostname != nil {
				out.redirect.Hostname = string(*rd.Hostname)
			}
			if rd.Port != nil {
				out.redirect.Port = *rd.Port
			}
			if rd.StatusCode != nil {
				out.redirect.StatusCode = *rd.StatusCode
			}
			out.redirect.Path = pathModifier(rd.Path)
		case gatewayv1.HTTPRouteFilterURLRewrite:
			if f.URLRewrite == nil {
				return out, fmt.Errorf("%s: urlRewrite is missing", at)
			}
			out.rewrite = &router.Rewrite{Path: pathModifier(f.URLRewrite.Path)}
			if f.URLRewrite.Hostname != nil {
				out.rewrite.Hostname = string(*f.URLRewrite.Hostname)
			}
		case gatewayv1.HTTPRouteFilterCORS:
			if f.CORS == nil {
				return out, fmt.Errorf("%s: cors is missing", at)
			}
			out.cors = convertCORS(f.CORS)
		case gatewayv1.HTTPRouteFilterRequestMirror:
			if f.RequestMirror == nil {
				return out, fmt.Errorf("%s: requestMirror is missing", at)
			}
			out.mirrorRefs = append(out.mirrorRefs, mirrorRef{ref: f.RequestMirror.BackendRef, fraction: mirrorFraction(f.RequestMirror)})
		case gatewayv1.HTTPRouteFilterExternalAuth:
			if f.ExternalAuth == nil {
				return out, fmt.Errorf("%s: externalAuth is missing", at)
			}
			if out.extAuth != nil {
				return out, fmt.Errorf("%s: only one ExternalAuth filter per rule", at)
			}
			switch f.ExternalAuth.ExternalAuthProtocol {
			case gatewayv1.HTTPRouteExternalAuthHTTPProtocol, gatewayv1.HTTPRouteExternalAuthGRPCProtocol:
			default:
				return out, fmt.Errorf("%s: externalAuth.protocol %q is not HTTP or GRPC", at, f.ExternalAuth.ExternalAuthProtocol)
			}
			out.extAuth = f.ExternalAuth
		case gatewayv1.HTTPRouteFilterExtensionRef:
			if !isPolicyRef(f.ExtensionRef) {
				return out, fmt.Errorf("%s: extensionRef must name a %s or %s (group %s)", at, KindSecurityPolicy, KindTrafficPolicy, porticoGroup)
			}
			// Attached to the rule's routes by applyPolicies.
		default:
			return out, fmt.Errorf("%s: filter type %s is not supported yet", at, f.Type)
		}
	}
	if out.redirect != nil && out.rewrite != nil {
		return out, fmt.Errorf("%s: RequestRedirect and URLRewrite cannot be used together: %w", field, errIncompatible)
	}
	return out, nil
}

func mergeHeaderOps(ops *router.HeaderOps, f *gatewayv1.HTTPHeaderFilter) *router.HeaderOps {
	if f == nil {
		return ops
	}
	if ops == nil {
		ops = &router.HeaderOps{}
	}
	for _, h := range f.Set {
		ops.Set = append(ops.Set, router.Header{Name: string(h.Name), Value: h.Value})
	}
	for _, h := range f.Add {
		ops.Add = append(ops.Add, router.Header{Name: string(h.Name), Value: h.Value})
	}
	ops.Remove = append(ops.Remove, f.Remove...)
	return ops
}

func pathModifier(m *gatewayv1.HTTPPathModifier) *router.PathModifier {
	if m == nil {
		return nil
	}
	switch m.Type {
	case gatewayv1.FullPathHTTPPathModifier:
		if m.ReplaceFullPath != nil {
			return &router.PathModifier{Value: *m.ReplaceFullPath}
		}
	case gatewayv1.PrefixMatchHTTPPathModifier:
		if m.ReplacePrefixMatch != nil {
			return &router.PathModifier{ReplacePrefix: true, Value: *m.ReplacePrefixMatch}
		}
	}
	return nil
}

// apply sets the filters on a route.
func (f ruleFilters) apply(r *router.Route) {
	r.RequestHeaders, r.ResponseHeaders, r.Redirect, r.Rewrite = f.request, f.response, f.redirect, f.rewrite
	r.Mirrors = f.mirrors
	r.CORS = f.cors
	if f.policy != nil {
		r.Policy = f.policy
	}
}

// externalAuthPolicy is the policy of an ExternalAuth filter whose
// backend resolved to be (a Service port, reached by its DNS name so
// the auth client balances and follows endpoint changes itself); an
// unresolved backend makes the policy Invalid, so the rule answers 500.
func externalAuthPolicy(f *gatewayv1.HTTPExternalAuthFilter, be *router.Backend, routeNS, source string) *router.Policy {
	if be.Status != 0 {
		return &router.Policy{Source: source, Invalid: "externalAuth: " + be.Reason}
	}
	if f.BackendRef.Port == nil {
		return &router.Policy{Source: source, Invalid: "externalAuth: backendRef.port is required"}
	}
	ns := routeNS
	if f.BackendRef.Namespace != nil {
		ns = string(*f.BackendRef.Namespace)
	}
	addr := fmt.Sprintf("%s.%s.svc:%d", f.BackendRef.Name, ns, *f.BackendRef.Port)
	var e portico.ExtAuth
	switch f.ExternalAuthProtocol {
	case gatewayv1.HTTPRouteExternalAuthGRPCProtocol:
		e.GRPC = &portico.GRPCExtAuth{Address: addr}
		if g := f.GRPCAuthConfig; g != nil {
			for _, h := range g.AllowedRequestHeaders {
				e.GRPC.HeadersToSend = append(e.GRPC.HeadersToSend, portico.HeaderName(h))
			}
		}
	default:
		e.HTTP = &portico.HTTPExtAuth{URL: "http://" + addr}
		if h := f.HTTPAuthConfig; h != nil {
			e.HTTP.URL += h.Path
			for _, n := range h.AllowedRequestHeaders {
				e.HTTP.HeadersToSend = append(e.HTTP.HeadersToSend, portico.HeaderName(n))
			}
			for _, n := range h.AllowedResponseHeaders {
				e.HTTP.HeadersToBackend = append(e.HTTP.HeadersToBackend, portico.HeaderName(n))
			}
		}
	}
	ea := convertExtAuth(&e)
	if ea.HTTP != nil {
		ea.HTTP.OriginalRequest = true
	}
	if ea.GRPC != nil && len(ea.GRPC.HeadersToSend) == 0 {
		ea.GRPC.AllHeaders = true
	}
	if fb := f.ForwardBody; fb != nil {
		// GEP-1494: a longer body is cut to maxSize for the service.
		ea.MaxBody, ea.PartialBody = int64(fb.MaxSize), true
	}
	return &router.Policy{Source: source, ExtAuth: ea}
}

func convertCORS(c *gatewayv1.HTTPCORSFilter) *router.CORS {
	out := &router.CORS{MaxAge: c.MaxAge, AllowCredentials: c.AllowCredentials != nil && *c.AllowCredentials}
	for _, o := range c.AllowOrigins {
		out.AllowOrigins = append(out.AllowOrigins, string(o))
	}
	for _, m := range c.AllowMethods {
		out.AllowMethods = append(out.AllowMethods, string(m))
	}
	for _, h := range c.AllowHeaders {
		out.AllowHeaders = append(out.AllowHeaders, string(h))
	}
	for _, h := range c.ExposeHeaders {
		out.ExposeHeaders = append(out.ExposeHeaders, string(h))
	}
	return out
}

// mirrorFraction is the share of requests a mirror gets: percent, or
// numerator/denominator (denominator 100 by default), else all.
func mirrorFraction(m *gatewayv1.HTTPRequestMirrorFilter) float64 {
	switch {
	case m.Percent != nil:
		return float64(*m.Percent) / 100
	case m.Fraction != nil:
		den := int32(100)
		if m.Fraction.Denominator != nil && *m.Fraction.Denominator > 0 {
			den = *m.Fraction.Denominator
		}
		return float64(m.Fraction.Numerator) / float64(den)
	}
	return 1
}
