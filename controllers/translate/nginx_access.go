package translate

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/portico-dev/portico/router"
)

// ingress-nginx's access annotations (source ranges, body size) and the
// router.Policy every annotation of this kind builds on: one Policy per
// Ingress (per rule host where an annotation names $host), attached to
// each of its routes by the hook below. An annotation that cannot be
// honoured safely (a bad CIDR, a missing auth Secret) makes the policy
// Invalid: the routes answer 500 and are never served unchecked.

func init() {
	registerNginx(
		NginxAnnotation{Name: "proxy-body-size", Support: NginxSupported, Default: "1m",
			Note: "Requests with a longer body get 413; \"0\" turns the limit off. Sizes in bytes or with the nginx units k, m, g. " +
				"The default comes from the ConfigMap key proxy-body-size (1m)."},
		NginxAnnotation{Name: "whitelist-source-range", Support: NginxDifferent,
			Note: "Alias of allowlist-source-range. Clients outside the CIDRs get 403, before any authentication. The client address is the connection's, " +
				"or with the ConfigMap's use-forwarded-headers the X-Forwarded-For client behind proxy-real-ip-cidr; Portico reads " +
				"X-Forwarded-For only from proxies its own --trusted-proxies trusts. An invalid CIDR makes the routes answer 500 (fail closed)."},
		NginxAnnotation{Name: "allowlist-source-range", Support: NginxDifferent,
			Note: "Clients outside the CIDRs get 403 (ConfigMap default whitelist-source-range); client address as for whitelist-source-range. " +
				"An invalid CIDR makes the routes answer 500 (fail closed)."},
		NginxAnnotation{Name: "denylist-source-range", Support: NginxDifferent,
			Note: "Clients inside the CIDRs get 403, checked before the allowlist (ConfigMap default denylist-source-range); client address as " +
				"for whitelist-source-range. An invalid CIDR makes the routes answer 500 (fail closed)."},
	)
	onNginxIngress(100, "access", nginxAccess)
	onNginxRoute(900, "policy", nginxAttachPolicy)
}

// nginxPolicy is the policy an ingress-nginx Ingress's annotations build.
type nginxPolicy struct {
	p router.Policy
	// invalid lists why the policy cannot be honoured (fail closed).
	invalid []string
	// byHost shares the built Policy per rule host.
	byHost map[string]*router.Policy
	// hostURLs are the auth URLs naming $host, substituted per route.
	hostURLs bool
}

// pol returns the Ingress's policy under construction.
func (n *nginxIngress) pol() *nginxPolicy {
	if n.policy == nil {
		n.policy = &nginxPolicy{byHost: map[string]*router.Policy{}}
	}
	return n.policy
}

// failClosed reports an annotation that cannot be honoured safely: an
// Error problem, and the Ingress's routes answer 500.
func (n *nginxIngress) failClosed(name, reason, msg string) {
	n.problem(name, SeverityError, reason, msg+"; its routes answer 500 until this is fixed")
	n.pol().invalid = append(n.pol().invalid, NginxAnnotationPrefix+name+": "+msg)
}

// nginxAccess reads the body size, the source ranges and how the client
// address is found.
func nginxAccess(n *nginxIngress) {
	if n.canary != nil {
		return
	}
	p := n.pol()
	size, ok := n.value("proxy-body-size")
	if !ok {
		size = n.global["proxy-body-size"]
	}
	if size == "" {
		size = "1m"
	}
	if b, err := nginxSize(size); err != nil {
		n.problem("proxy-body-size", SeverityError, "InvalidAnnotation", err.Error()+"; the default 1m applies")
		p.p.MaxRequestBody = 1 << 20
	} else {
		p.p.MaxRequestBody = b
	}
	if n.global["use-forwarded-headers"] == "true" {
		cidrs := n.global["proxy-real-ip-cidr"]
		if cidrs == "" {
			cidrs = "0.0.0.0/0"
		}
		d := &router.ClientIPDetection{}
		for _, f := range splitList(cidrs) {
			pfx, err := parseCIDR(f)
			if err != nil {
				msg := "ingress-nginx ConfigMap key proxy-real-ip-cidr: " + err.Error()
				n.t.problem(n.ref, "metadata.annotations", SeverityError, "InvalidConfigMap", msg+"; the routes answer 500")
				p.invalid = append(p.invalid, msg)
				continue
			}
			d.TrustedProxies = append(d.TrustedProxies, pfx)
		}
		p.p.ClientIP = d
	}
	deny := n.cidrs("denylist-source-range")
	allowName := "allowlist-source-range"
	if _, ok := n.value(allowName); !ok {
		if _, ok := n.value("whitelist-source-range"); ok {
			allowName = "whitelist-source-range"
		}
	}
	allow := n.cidrs(allowName)
	if deny == nil && allow == nil {
		return
	}
	az := &router.Authorization{Default: router.AuthzAllow}
	if len(deny) > 0 {
		az.Rules = append(az.Rules, router.AuthzRule{Name: "denylist-source-range", Action: router.AuthzDeny, ClientCIDRs: deny})
	}
	if len(allow) > 0 {
		az.Rules = append(az.Rules, router.AuthzRule{Name: allowName, Action: router.AuthzAllow, ClientCIDRs: allow})
		az.Default = router.AuthzDeny
	}
	p.p.Authorization = az
}

// cidrs parses a source-range annotation (the ConfigMap key of the same
// name is the default; whitelist-source-range for the allowlist).
func (n *nginxIngress) cidrs(name string) []netip.Prefix {
	v, ok := n.value(name)
	if !ok {
		key := name
		if name == "allowlist-source-range" {
			key = "whitelist-source-range"
		}
		v = n.global[key]
	}
	var out []netip.Prefix
	for _, f := range splitList(v) {
		pfx, err := parseCIDR(f)
		if err != nil {
			n.failClosed(name, "InvalidAnnotation", err.Error())
			continue
		}
		out = append(out, pfx)
	}
	return out
}

// nginxAttachPolicy gives a route its Ingress's policy.
func nginxAttachPolicy(n *nginxIngress, _ nginxPath, r *router.Route) {
	np := n.policy
	if np == nil {
		return
	}
	if p := np.byHost[r.Host]; p != nil {
		r.Policy = p
		return
	}
	p := np.build(n, r.Host, r.HostMatch)
	np.byHost[r.Host] = p
	r.Policy = p
}

// nginxDefaultPolicy gives the Ingress's policy to the default backend
// route it just made, so that its access annotations guard it too.
func (t *ingressProcessor) nginxDefaultPolicy(n *nginxIngress) {
	var r *router.Route
	switch {
	case t.frag != nil && t.frag.def != nil:
		r = t.frag.def.route
	case t.frag == nil && t.defaultFrom != nil && *t.defaultFrom == n.ref:
		r = t.res.Config.Default
	}
	if r != nil && r.Policy == nil {
		nginxAttachPolicy(n, nginxPath{rule: -1, path: -1, raw: "/"}, r)
	}
}

// build makes the router.Policy of one rule host.
func (np *nginxPolicy) build(n *nginxIngress, host string, hm router.HostMatch) *router.Policy {
	src := n.ref.String() + " (ingress-nginx annotations)"
	if len(np.invalid) > 0 {
		return &router.Policy{Source: src, Invalid: strings.Join(np.invalid, "; ")}
	}
	p := &router.Policy{Source: src, MaxRequestBody: np.p.MaxRequestBody, ClientIP: np.p.ClientIP, BasicAuth: np.p.BasicAuth,
		ExtAuth: np.p.ExtAuth, Authorization: np.p.Authorization, RateLimit: np.p.RateLimit,
		MoreRateLimits: np.p.MoreRateLimits, ConnLimit: np.p.ConnLimit, NginxOrder: true}
	if np.hostURLs && p.ExtAuth != nil {
		if hm != router.HostExact {
			msg := fmt.Sprintf("auth-url or auth-signin names $host, which Portico substitutes only for rule hosts that are exact names, not %q", displayHost(host))
			n.problem("auth-url", SeverityError, "InvalidAnnotation", msg+"; these routes answer 500")
			return &router.Policy{Source: src, Invalid: msg}
		}
		p.ExtAuth = withHost(p.ExtAuth, host)
	}
	if err := p.Check(); err != nil {
		n.t.problem(n.ref, "metadata.annotations", SeverityError, "InvalidAnnotation", "ingress-nginx annotations: "+err.Error()+"; the routes answer 500")
		return &router.Policy{Source: src, Invalid: err.Error()}
	}
	return p
}

// nginxSize parses an nginx size: bytes, or a number with k, m or g.
func nginxSize(s string) (int64, error) {
	v := strings.TrimSpace(s)
	mult := int64(1)
	if v != "" {
		switch v[len(v)-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		}
		if mult != 1 {
			v = v[:len(v)-1]
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not an nginx size (a number of bytes, or with k, m or g)", s)
	}
	return n * mult, nil
}

// splitList splits a comma-separated annotation value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
