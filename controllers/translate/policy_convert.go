package translate

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	portico "github.com/portico-dev/portico/api/v1alpha1"
	"github.com/portico-dev/portico/router"
)

// policyPart is one SecurityPolicy or TrafficPolicy turned into the part
// of a router.Policy it sets, or why it could not be (field and message:
// invalid tells Invalid from an unresolved reference).
type policyPart struct {
	ref        ObjectRef
	generation int64
	created    metav1.Time
	targets    []policyTargetRef
	annotation string // the Ingress annotation naming this kind

	// security and traffic hold the converted settings (one of them).
	security *router.Policy
	traffic  *router.Policy
	// shaping is a TrafficPolicy's settings for the routes themselves.
	shaping routeShaping
	// proxy is a TrafficPolicy's PROXY protocol setting, for the Gateway
	// listeners it targets (see applyProxyProtocol).
	proxy *router.ProxyProtocol

	field, message string
	unresolved     bool
}

// failed reports whether the policy could not be converted.
func (p *policyPart) failed() bool { return p.message != "" }

func (p *policyPart) fail(field, msg string, unresolved bool) *policyPart {
	p.field, p.message, p.unresolved = field, msg, unresolved
	return p
}

// lookups reads the Secrets and ConfigMaps policies name, in the policy's
// namespace.
type lookups struct {
	secrets map[nsName]*corev1.Secret
	cms     map[nsName]*corev1.ConfigMap
}

func (l lookups) secretKey(ns string, ref portico.SecretKeyReference, def string) (string, string) {
	key := cmp.Or(ref.Key, def)
	s := l.secrets[nsName{ns, ref.Name}]
	if s == nil {
		return "", fmt.Sprintf("Secret %s/%s not found", ns, ref.Name)
	}
	v, ok := s.Data[key]
	if !ok {
		if sv, ok2 := s.StringData[key]; ok2 {
			return sv, ""
		}
		return "", fmt.Sprintf("Secret %s/%s has no key %q", ns, ref.Name, key)
	}
	return string(v), ""
}

func (l lookups) configMapKey(ns string, ref portico.SecretKeyReference, def string) (string, string) {
	key := cmp.Or(ref.Key, def)
	cm := l.cms[nsName{ns, ref.Name}]
	if cm == nil {
		return "", fmt.Sprintf("ConfigMap %s/%s not found", ns, ref.Name)
	}
	v, ok := cm.Data[key]
	if !ok {
		return "", fmt.Sprintf("ConfigMap %s/%s has no key %q", ns, ref.Name, key)
	}
	return v, ""
}

// convertSecurity builds the router policy of a SecurityPolicy.
func convertSecurity(sp *portico.SecurityPolicy, l lookups) *policyPart {
	ns := sp.Namespace
	p := &policyPart{ref: ObjectRef{Kind: KindSecurityPolicy, Namespace: ns, Name: sp.Name}, generation: sp.Generation,
		created: sp.CreationTimestamp, targets: targetRefs(sp.Spec.TargetRefs), annotation: AnnotationSecurityPolicy}
	out := &router.Policy{}
	spec := &sp.Spec
	if b := spec.BasicAuth; b != nil {
		users, msg := l.secretKey(ns, b.Users, ".htpasswd")
		if msg != "" {
			return p.fail("spec.basicAuth.users", msg, true)
		}
		out.BasicAuth = &router.BasicAuth{Htpasswd: users, Realm: b.Realm, UserHeader: headerName(b.ForwardUsernameHeader)}
	}
	if a := spec.APIKey; a != nil {
		ka := &router.APIKeyAuth{From: sources(a.ExtractFrom), ClientIDHeader: headerName(a.ForwardClientIDHeader)}
		for i, ref := range a.CredentialRefs {
			s := l.secrets[nsName{ns, ref.Name}]
			if s == nil {
				return p.fail(fmt.Sprintf("spec.apiKey.credentialRefs[%d]", i), fmt.Sprintf("Secret %s/%s not found", ns, ref.Name), true)
			}
			data := map[string]string{}
			for k, v := range s.Data {
				data[k] = string(v)
			}
			for k, v := range s.StringData {
				data[k] = v
			}
			for _, id := range slices.Sorted(maps.Keys(data)) {
				ka.Keys = append(ka.Keys, router.APIKey{ClientID: id, Key: strings.TrimSpace(data[id])})
			}
		}
		out.APIKey = ka
	}
	if j := spec.JWT; j != nil {
		ja := &router.JWTAuth{}
		for i, pv := range j.Providers {
			field := fmt.Sprintf("spec.jwt.providers[%d]", i)
			rp := router.JWTProvider{Name: pv.Name, Issuer: pv.Issuer, Audiences: pv.Audiences, From: sources(pv.ExtractFrom),
				RequiredScopes: pv.RequiredScopes, Leeway: duration(pv.ClockSkew)}
			switch {
			case pv.LocalJWKS != nil:
				var v, msg string
				if pv.LocalJWKS.Kind == "ConfigMap" {
					v, msg = l.configMapKey(ns, pv.LocalJWKS.SecretKeyReference, "jwks.json")
				} else {
					v, msg = l.secretKey(ns, pv.LocalJWKS.SecretKeyReference, "jwks.json")
				}
				if msg != "" {
					return p.fail(field+".localJWKS", msg, true)
				}
				rp.LocalJWKS = v
			case pv.RemoteJWKS != nil:
				rp.RemoteJWKS = &router.RemoteJWKS{URL: pv.RemoteJWKS.URI, Refresh: duration(pv.RemoteJWKS.RefreshInterval),
					Timeout: duration(pv.RemoteJWKS.Timeout)}
			}
			for _, ch := range pv.ClaimToHeaders {
				rp.ClaimsToHeaders = append(rp.ClaimsToHeaders, router.ClaimToHeader{Claim: ch.Claim, Header: string(ch.Header)})
			}
			rp.RequiredClaims = claims(pv.RequiredClaims)
			for _, a := range pv.Algorithms {
				rp.Algorithms = append(rp.Algorithms, string(a))
			}
			ja.Providers = append(ja.Providers, rp)
		}
		out.JWT = ja
	}
	if e := spec.ExtAuth; e != nil {
		out.ExtAuth = convertExtAuth(e)
	}
	if a := spec.Authorization; a != nil {
		az := &router.Authorization{Default: action(a.DefaultAction)}
		for i, r := range a.Rules {
			rule := router.AuthzRule{Name: r.Name, Action: action(r.Action), Claims: claims(r.JWTClaims)}
			for k, c := range r.ClientCIDRs {
				pfx, err := parseCIDR(c)
				if err != nil {
					return p.fail(fmt.Sprintf("spec.authorization.rules[%d].clientCIDRs[%d]", i, k), err.Error(), false)
				}
				rule.ClientCIDRs = append(rule.ClientCIDRs, pfx)
			}
			for _, m := range r.Methods {
				rule.Methods = append(rule.Methods, string(m))
			}
			for _, pa := range r.Paths {
				rule.Paths = append(rule.Paths, router.AuthzPath{Path: pa.Value, Prefix: pa.Type != "Exact"})
			}
			az.Rules = append(az.Rules, rule)
		}
		out.Authorization = az
	}
	if err := out.Check(); err != nil {
		return p.fail("spec", err.Error(), false)
	}
	p.security = out
	return p
}

// convertTraffic builds the router policy of a TrafficPolicy.
func convertTraffic(tp *portico.TrafficPolicy) *policyPart {
	ns := tp.Namespace
	p := &policyPart{ref: ObjectRef{Kind: KindTrafficPolicy, Namespace: ns, Name: tp.Name}, generation: tp.Generation,
		created: tp.CreationTimestamp, targets: targetRefs(tp.Spec.TargetRefs), annotation: AnnotationTrafficPolicy}
	out := &router.Policy{}
	spec := &tp.Spec
	if rl := spec.RateLimit; rl != nil {
		if rl.Local == nil && rl.Global == nil {
			return p.fail("spec.rateLimit", "set local or global", false)
		}
		if l := rl.Local; l != nil {
			lr := &router.LocalRateLimit{Requests: uint32(max(l.Requests, 0)), Per: unitDuration(l.Unit), Shadow: l.Shadow, Scope: p.ref.String()}
			if l.Burst != nil {
				lr.Burst = uint32(max(*l.Burst, 0))
			}
			lr.Key, lr.KeyName = rateKey(l.Key)
			out.RateLimit = lr
		}
		if g := rl.Global; g != nil {
			gr := &router.GlobalRateLimit{Requests: uint32(max(g.Requests, 0)), Per: unitDuration(g.Unit), Redis: g.Redis,
				FailOpen: g.FailOpen, Scope: p.ref.String()}
			gr.Key, gr.KeyName = rateKey(g.Key)
			out.GlobalLimit = gr
		}
	}
	if rb := spec.RequestBody; rb != nil {
		q := rb.MaxSize.DeepCopy() // reading a Quantity may rewrite its cache
		n := q.Value()
		if n <= 0 {
			return p.fail("spec.requestBody.maxSize", "must be positive", false)
		}
		out.MaxRequestBody = n
	}
	if d := spec.ClientIPDetection; d != nil {
		cd := &router.ClientIPDetection{}
		for i, c := range d.TrustedCIDRs {
			pfx, err := parseCIDR(c)
			if err != nil {
				return p.fail(fmt.Sprintf("spec.clientIPDetection.trustedCIDRs[%d]", i), err.Error(), false)
			}
			cd.TrustedProxies = append(cd.TrustedProxies, pfx)
		}
		if d.NumTrustedHops != nil {
			cd.Hops = int(*d.NumTrustedHops)
		}
		if len(cd.TrustedProxies) > 0 || cd.Hops > 0 {
			out.ClientIP = cd
		}
		if d.ProxyProtocol != nil {
			pp, field, msg := convertProxyProtocol(d.ProxyProtocol)
			if msg != "" {
				return p.fail(field, msg, false)
			}
			p.proxy = pp
		}
	}
	if err := out.Check(); err != nil {
		return p.fail("spec", err.Error(), false)
	}
	shaping, field, msg := convertShaping(spec)
	if msg != "" {
		return p.fail(field, msg, false)
	}
	p.traffic, p.shaping = out, shaping
	return p
}

func parseCIDR(s string) (netip.Prefix, error) {
	if pfx, err := netip.ParsePrefix(s); err == nil {
		return pfx.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR or an IP address", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func headerName(h *portico.HeaderName) string {
	if h == nil {
		return ""
	}
	return string(*h)
}

func sources(in []portico.CredentialSource) []router.TokenSource {
	var out []router.TokenSource
	for _, s := range in {
		var ts router.TokenSource
		if s.Header != nil {
			ts.Header = string(*s.Header)
		}
		if s.Prefix != nil {
			ts.Prefix = *s.Prefix
		}
		if s.Cookie != nil {
			ts.Cookie = *s.Cookie
		}
		if s.Query != nil {
			ts.Query = *s.Query
		}
		out = append(out, ts)
	}
	return out
}

func claims(in []portico.ClaimMatch) []router.ClaimMatch {
	var out []router.ClaimMatch
	for _, c := range in {
		out = append(out, router.ClaimMatch{Name: c.Name, Values: c.Values})
	}
	return out
}

func action(a portico.AuthorizationAction) router.AuthzAction {
	if a == portico.ActionAllow {
		return router.AuthzAllow
	}
	return router.AuthzDeny
}

// duration is d, 0 when unset (the router's default).
func duration(d *metav1.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.Duration
}

func unitDuration(u portico.RateLimitUnit) time.Duration {
	return map[portico.RateLimitUnit]time.Duration{"Second": time.Second, "Minute": time.Minute, "Hour": time.Hour}[u]
}

func rateKey(k *portico.RateLimitKey) (router.RateKey, string) {
	if k == nil {
		return router.RateKeyRoute, ""
	}
	return map[string]router.RateKey{"Route": router.RateKeyRoute, "ClientIP": router.RateKeyClientIP,
		"Header": router.RateKeyHeader, "Claim": router.RateKeyClaim}[k.Type], k.Name
}

// convertExtAuth is the router's form of an ExtAuth; the HTTPRoute
// ExternalAuth filter is converted through it too.
func convertExtAuth(e *portico.ExtAuth) *router.ExtAuth {
	ea := &router.ExtAuth{Timeout: duration(e.Timeout), FailOpen: e.FailOpen}
	if e.HTTP != nil {
		ea.HTTP = &router.HTTPExtAuth{URL: e.HTTP.URL}
		for _, h := range e.HTTP.HeadersToSend {
			ea.HTTP.HeadersToSend = append(ea.HTTP.HeadersToSend, string(h))
		}
		for _, h := range e.HTTP.HeadersToBackend {
			ea.HTTP.HeadersToBackend = append(ea.HTTP.HeadersToBackend, string(h))
		}
	}
	if e.GRPC != nil {
		ea.GRPC = &router.GRPCExtAuth{Address: e.GRPC.Address}
		for _, h := range e.GRPC.HeadersToSend {
			ea.GRPC.HeadersToSend = append(ea.GRPC.HeadersToSend, string(h))
		}
	}
	if b := e.WithRequestBody; b != nil {
		ea.MaxBody, ea.PartialBody = int64(b.MaxRequestBytes), b.AllowPartialMessage
		if ea.GRPC != nil {
			ea.GRPC.PackAsBytes = b.PackAsBytes
		}
	}
	return ea
}
