package translate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portico-dev/portico/router"
)

// Portico's policy kinds and the Ingress annotations naming them.
const (
	KindSecurityPolicy       = "SecurityPolicy"
	KindTrafficPolicy        = "TrafficPolicy"
	AnnotationSecurityPolicy = "portico.dev/security-policy"
	AnnotationTrafficPolicy  = "portico.dev/traffic-policy"
	ingressGroup             = "networking.k8s.io"
	porticoGroup             = "portico.dev"
)

// isPolicyRef reports whether an ExtensionRef filter names one of
// Portico's policies.
func isPolicyRef(r *gatewayv1.LocalObjectReference) bool {
	return r != nil && r.Group == porticoGroup && (r.Kind == KindSecurityPolicy || r.Kind == KindTrafficPolicy)
}

// policyTargetRef is one targetRef of a policy.
type policyTargetRef struct{ group, kind, name, section string }

func targetRefs(refs []gatewayv1.LocalPolicyTargetReferenceWithSectionName) []policyTargetRef {
	out := make([]policyTargetRef, 0, len(refs))
	for _, r := range refs {
		t := policyTargetRef{group: string(r.Group), kind: string(r.Kind), name: string(r.Name)}
		if r.SectionName != nil {
			t.section = string(*r.SectionName)
		}
		out = append(out, t)
	}
	return out
}

// attachKey is what one targetRef attaches to: kind, namespace, name and
// the listener or rule name ("" for the whole object).
type attachKey struct{ kind, ns, name, section string }

// policyKind holds the attachments of one policy kind: the oldest policy
// claiming a key wins it.
type policyKind struct {
	parts   []*policyPart
	byName  map[nsName]*policyPart
	winners map[attachKey]*policyPart
	// lost records, per policy and targetRef index, the older policy that
	// won the same target.
	lost map[*policyPart]map[int]*policyPart
}

func newPolicyKind(parts []*policyPart) *policyKind {
	slices.SortStableFunc(parts, func(a, b *policyPart) int {
		return cmp.Or(a.created.Compare(b.created.Time), cmp.Compare(a.ref.Namespace, b.ref.Namespace), cmp.Compare(a.ref.Name, b.ref.Name))
	})
	k := &policyKind{parts: parts, byName: map[nsName]*policyPart{}, winners: map[attachKey]*policyPart{},
		lost: map[*policyPart]map[int]*policyPart{}}
	for _, p := range parts {
		k.byName[nsName{p.ref.Namespace, p.ref.Name}] = p
		for i, t := range p.targets {
			key := attachKey{t.kind, p.ref.Namespace, t.name, t.section}
			if w, taken := k.winners[key]; taken {
				if k.lost[p] == nil {
					k.lost[p] = map[int]*policyPart{}
				}
				k.lost[p][i] = w
				continue
			}
			k.winners[key] = p
		}
	}
	return k
}

// applyPolicies attaches SecurityPolicies and TrafficPolicies to the
// routes translated so far (the most specific target wins: a named rule,
// the route, a listener, the Gateway; for Ingresses the annotation, then a
// targetRef) and reports every policy's status per ancestor.
func (c *common) applyPolicies() {
	s := c.snap
	if len(s.SecurityPolicies) == 0 && len(s.TrafficPolicies) == 0 && !c.anyPolicyAnnotation() {
		return
	}
	l := lookups{secrets: c.secrets, cms: map[nsName]*corev1.ConfigMap{}}
	for i := range s.ConfigMaps {
		l.cms[nsName{s.ConfigMaps[i].Namespace, s.ConfigMaps[i].Name}] = &s.ConfigMaps[i]
	}
	var sec, traf []*policyPart
	for i := range s.SecurityPolicies {
		sec = append(sec, convertSecurity(&s.SecurityPolicies[i], l))
	}
	for i := range s.TrafficPolicies {
		traf = append(traf, convertTraffic(&s.TrafficPolicies[i]))
	}
	a := &attacher{common: c, sec: newPolicyKind(sec), traf: newPolicyKind(traf), merged: map[mergeKey]*router.Policy{}}
	a.index()
	for i := range c.res.Config.Routes {
		a.attach(&c.res.Config.Routes[i])
	}
	if c.res.Config.Default != nil {
		a.attach(c.res.Config.Default)
	}
	a.applyProxyProtocol()
	c.res.SecurityPolicies = a.statuses(a.sec)
	c.res.TrafficPolicies = a.statuses(a.traf)
}

func (c *common) anyPolicyAnnotation() bool {
	for i := range c.snap.Ingresses {
		ann := c.snap.Ingresses[i].Annotations
		if ann[AnnotationSecurityPolicy] != "" || ann[AnnotationTrafficPolicy] != "" {
			return true
		}
	}
	return false
}

// attacher resolves the effective policy of each route.
type attacher struct {
	*common
	sec, traf *policyKind
	// merged shares one router.Policy per pair of winners (and the policy
	// an ingress-nginx Ingress's annotations gave the route).
	merged map[mergeKey]*router.Policy
	// gateways, ingresses and routes index the snapshot.
	gateways  map[nsName]*gatewayv1.Gateway
	owned     map[nsName]bool // Portico's Gateways
	ingresses map[nsName]map[string]string
	ownedIng  map[nsName]bool
	rules     map[attachKey][]string // route → rule names by index
	// extRefs are the policies HTTPRoute and GRPCRoute rules name in ExtensionRef
	// filters: by route, rule index and kind, the policy name.
	extRefs map[attachKey]map[int]map[string]string
	parents map[attachKey][]nsName // route → its Gateways
	// missing records annotations naming absent policies, reported once.
	missing map[string]bool
	// annotated lists, per policy, the Ingresses naming it by annotation;
	// filtered the HTTPRoutes and GRPCRoutes naming it in an ExtensionRef
	// filter.
	annotated map[*policyPart][]nsName
	filtered  map[*policyPart][]attachKey
}

func (a *attacher) index() {
	s := a.snap
	a.gateways, a.owned = map[nsName]*gatewayv1.Gateway{}, map[nsName]bool{}
	for i := range s.Gateways {
		a.gateways[nsName{s.Gateways[i].Namespace, s.Gateways[i].Name}] = &s.Gateways[i]
	}
	for _, g := range a.res.Gateways {
		a.owned[nsName{g.Ref.Namespace, g.Ref.Name}] = true
	}
	a.ingresses, a.ownedIng = map[nsName]map[string]string{}, map[nsName]bool{}
	for i := range s.Ingresses {
		a.ingresses[nsName{s.Ingresses[i].Namespace, s.Ingresses[i].Name}] = s.Ingresses[i].Annotations
	}
	for _, r := range a.res.Ingresses {
		a.ownedIng[nsName{r.Namespace, r.Name}] = true
	}
	a.rules, a.parents, a.missing = map[attachKey][]string{}, map[attachKey][]nsName{}, map[string]bool{}
	a.annotated, a.filtered = map[*policyPart][]nsName{}, map[*policyPart][]attachKey{}
	a.extRefs = map[attachKey]map[int]map[string]string{}
	add := func(kind, ns, name string, names []string, refs []gatewayv1.ParentReference) {
		k := attachKey{kind: kind, ns: ns, name: name}
		a.rules[k] = names
		for _, p := range refs {
			if p.Kind != nil && *p.Kind != kindGateway {
				continue
			}
			gw := nsName{ns, string(p.Name)}
			if p.Namespace != nil {
				gw.ns = string(*p.Namespace)
			}
			if a.owned[gw] && !slices.Contains(a.parents[k], gw) {
				a.parents[k] = append(a.parents[k], gw)
			}
		}
	}
	for i := range s.HTTPRoutes {
		r := &s.HTTPRoutes[i]
		names := make([]string, len(r.Spec.Rules))
		for j, rule := range r.Spec.Rules {
			if rule.Name != nil {
				names[j] = string(*rule.Name)
			}
		}
		add(kindHTTP, r.Namespace, r.Name, names, r.Spec.ParentRefs)
		for j, rule := range r.Spec.Rules {
			for _, f := range rule.Filters {
				if f.Type == gatewayv1.HTTPRouteFilterExtensionRef {
					a.addExtRef(attachKey{kind: kindHTTP, ns: r.Namespace, name: r.Name}, j, f.ExtensionRef)
				}
			}
		}
	}
	for i := range s.GRPCRoutes {
		r := &s.GRPCRoutes[i]
		names := make([]string, len(r.Spec.Rules))
		for j, rule := range r.Spec.Rules {
			if rule.Name != nil {
				names[j] = string(*rule.Name)
			}
		}
		add(kindGRPC, r.Namespace, r.Name, names, r.Spec.ParentRefs)
		for j, rule := range r.Spec.Rules {
			for _, f := range rule.Filters {
				if f.Type == gatewayv1.GRPCRouteFilterExtensionRef {
					a.addExtRef(attachKey{kind: kindGRPC, ns: r.Namespace, name: r.Name}, j, f.ExtensionRef)
				}
			}
		}
	}
}

// addExtRef records the policy an ExtensionRef filter of rule j names.
func (a *attacher) addExtRef(k attachKey, j int, ref *gatewayv1.LocalObjectReference) {
	if !isPolicyRef(ref) {
		return
	}
	if a.extRefs[k] == nil {
		a.extRefs[k] = map[int]map[string]string{}
	}
	if a.extRefs[k][j] == nil {
		a.extRefs[k][j] = map[string]string{}
	}
	a.extRefs[k][j][string(ref.Kind)] = string(ref.Name)
}

// attach sets a route's Policy from the winning policies.
func (a *attacher) attach(r *router.Route) {
	sec, secMissing := a.effective(a.sec, r)
	traf, trafMissing := a.effective(a.traf, r)
	switch {
	case secMissing != "" || trafMissing != "":
		r.Policy = &router.Policy{Source: r.Source.String(), Invalid: cmp.Or(secMissing, trafMissing)}
		return
	case sec == nil && traf == nil:
		return
	}
	applyShaping(r, traf)
	base := r.Policy // from ingress-nginx annotations: the policies add to it
	key := mergeKey{sec, traf, base}
	if p := a.merged[key]; p != nil {
		r.Policy = p
		return
	}
	p := &router.Policy{}
	var names, invalid []string
	if base != nil {
		p.MaxRequestBody, p.ClientIP, p.BasicAuth, p.ExtAuth, p.Authorization = base.MaxRequestBody, base.ClientIP, base.BasicAuth, base.ExtAuth, base.Authorization
		p.RateLimit, p.MoreRateLimits, p.ConnLimit = base.RateLimit, base.MoreRateLimits, base.ConnLimit
		names = append(names, base.Source)
		if base.Invalid != "" {
			invalid = append(invalid, base.Source+": "+base.Invalid)
		}
	}
	for _, part := range [2]*policyPart{sec, traf} {
		if part == nil {
			continue
		}
		names = append(names, part.ref.String())
		if part.failed() {
			invalid = append(invalid, part.ref.String()+": "+part.field+": "+part.message)
			continue
		}
		if q := part.security; q != nil {
			p.BasicAuth, p.APIKey, p.JWT = cmp.Or(q.BasicAuth, p.BasicAuth), q.APIKey, q.JWT
			p.ExtAuth, p.Authorization = cmp.Or(q.ExtAuth, p.ExtAuth), cmp.Or(q.Authorization, p.Authorization)
		}
		if q := part.traffic; q != nil {
			p.RateLimit, p.GlobalLimit = cmp.Or(q.RateLimit, p.RateLimit), q.GlobalLimit
			p.MaxRequestBody, p.ClientIP = cmp.Or(q.MaxRequestBody, p.MaxRequestBody), cmp.Or(q.ClientIP, p.ClientIP)
		}
	}
	p.Source = strings.Join(names, ", ")
	if len(invalid) > 0 {
		p = &router.Policy{Source: p.Source, Invalid: strings.Join(invalid, "; ")}
	}
	a.merged[key] = p
	r.Policy = p
}

// mergeKey identifies one merged policy: the winners of both kinds and
// the route's own policy from ingress-nginx annotations.
type mergeKey struct {
	sec, traf *policyPart
	base      *router.Policy
}

// effective finds the winning policy of kind k for a route; missing is
// set when an Ingress annotation names a policy that does not exist.
func (a *attacher) effective(k *policyKind, r *router.Route) (*policyPart, string) {
	src := r.Source
	switch src.Kind {
	case ingressKind:
		ann := a.ingresses[nsName{src.Namespace, src.Name}]
		annotation := AnnotationSecurityPolicy
		kind := KindSecurityPolicy
		if k == a.traf {
			annotation, kind = AnnotationTrafficPolicy, KindTrafficPolicy
		}
		if name := ann[annotation]; name != "" {
			if p := k.byName[nsName{src.Namespace, name}]; p != nil {
				if ing := (nsName{src.Namespace, src.Name}); !slices.Contains(a.annotated[p], ing) {
					a.annotated[p] = append(a.annotated[p], ing)
				}
				return p, ""
			}
			msg := fmt.Sprintf("%s %s/%s named by the %s annotation does not exist", kind, src.Namespace, name, annotation)
			ing := ObjectRef{Kind: ingressKind, Namespace: src.Namespace, Name: src.Name}
			if !a.missing[ing.String()+annotation] {
				a.missing[ing.String()+annotation] = true
				a.problem(ing, "metadata.annotations["+annotation+"]", SeverityError, "PolicyNotFound",
					msg+"; its routes answer 500 until it does")
			}
			return nil, msg
		}
		return k.winners[attachKey{ingressKind, src.Namespace, src.Name, ""}], ""
	case kindHTTP, kindGRPC:
		rk := attachKey{src.Kind, src.Namespace, src.Name, ""}
		kind := KindSecurityPolicy
		if k == a.traf {
			kind = KindTrafficPolicy
		}
		if name, ok := a.extRefs[rk][src.Rule][kind]; ok {
			// An ExtensionRef filter of the rule: the most specific.
			if p := k.byName[nsName{src.Namespace, name}]; p != nil {
				if !slices.Contains(a.filtered[p], rk) {
					a.filtered[p] = append(a.filtered[p], rk)
				}
				return p, ""
			}
			msg := fmt.Sprintf("%s %s/%s named by an ExtensionRef filter does not exist", kind, src.Namespace, name)
			route := ObjectRef{Kind: src.Kind, Namespace: src.Namespace, Name: src.Name}
			field := fmt.Sprintf("spec.rules[%d].filters", src.Rule)
			if !a.missing[route.String()+field+kind] {
				a.missing[route.String()+field+kind] = true
				a.problem(route, field, SeverityError, "PolicyNotFound", msg+"; the rule answers 500 until it does")
			}
			return nil, msg
		}
		if names := a.rules[rk]; src.Rule >= 0 && src.Rule < len(names) && names[src.Rule] != "" {
			if p := k.winners[attachKey{src.Kind, src.Namespace, src.Name, names[src.Rule]}]; p != nil {
				return p, ""
			}
		}
		if p := k.winners[rk]; p != nil {
			return p, ""
		}
		return a.gatewayPolicy(k, r), ""
	}
	return nil, ""
}

// gatewayPolicy is the policy of the listener a route is served on, else
// of its Gateway.
func (a *attacher) gatewayPolicy(k *policyKind, r *router.Route) *policyPart {
	kind, ns, name, port, ok := router.ParseListenerKey(r.Listener)
	if !ok || kind != kindGateway {
		return nil
	}
	if gw := a.gateways[nsName{ns, name}]; gw != nil {
		// The listener serving the route's host: the most specific
		// hostname of those on the port that cover it.
		var best *gatewayv1.Listener
		for i := range gw.Spec.Listeners {
			l := &gw.Spec.Listeners[i]
			if l.Port == port && listenerCovers(l.Hostname, r.Host) && (best == nil || moreSpecificHostname(l.Hostname, best.Hostname)) {
				best = l
			}
		}
		if best != nil {
			if p := k.winners[attachKey{kindGateway, ns, name, string(best.Name)}]; p != nil {
				return p
			}
		}
	}
	return k.winners[attachKey{kindGateway, ns, name, ""}]
}

// listenerCovers reports whether a route host is served by a listener of
// that hostname (nil: any host).
func listenerCovers(hostname *gatewayv1.Hostname, host string) bool {
	if hostname == nil || *hostname == "" {
		return true
	}
	h := string(*hostname)
	if h == host {
		return true
	}
	if suffix, ok := strings.CutPrefix(h, "*"); ok {
		return strings.HasSuffix(host, suffix) && host != suffix[1:]
	}
	return false
}

// moreSpecificHostname orders listener hostnames: exact before wildcard, longer
// wildcards first, none last.
func moreSpecificHostname(a, b *gatewayv1.Hostname) bool {
	rank := func(h *gatewayv1.Hostname) int {
		switch {
		case h == nil || *h == "":
			return 0
		case strings.HasPrefix(string(*h), "*"):
			return 1 + len(*h)
		}
		return 1 << 20
	}
	return rank(a) > rank(b)
}
