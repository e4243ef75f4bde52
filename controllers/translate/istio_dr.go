package translate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	istionet "istio.io/api/networking/v1alpha3"
	istiov1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/portico-dev/portico/router"
)

// istioService resolves an Istio host ("svc", "svc.ns",
// "svc.ns.svc[.cluster.local]") written in namespace ns to a Service;
// ok is false for hosts outside the cluster.
func istioService(host, ns string) (nsName, bool) {
	host = strings.TrimSuffix(strings.TrimSuffix(host, ".cluster.local"), ".svc")
	svc, rest, found := strings.Cut(host, ".")
	switch {
	case !found:
		return nsName{ns, host}, true
	case strings.Contains(rest, "."):
		return nsName{}, false
	default:
		return nsName{rest, svc}, true
	}
}

// destinationRules indexes DestinationRules by the Service they name (the
// oldest wins a Service) and reports what of them Portico ignores.
func (t *istioProcessor) destinationRules() map[nsName]*istiov1.DestinationRule {
	drs := slices.Clone(t.snap.DestinationRules)
	sortOldestFirst(drs)
	out := map[nsName]*istiov1.DestinationRule{}
	for _, dr := range drs {
		ref := ObjectRef{Kind: KindDestinationRule, Namespace: dr.Namespace, Name: dr.Name}
		svc, ok := istioService(dr.Spec.GetHost(), dr.Namespace)
		if !ok {
			t.problem(ref, "spec.host", SeverityWarning, reasonUnresolvedRef,
				fmt.Sprintf("host %q is not a Service of this cluster; the rule is ignored", dr.Spec.GetHost()))
			continue
		}
		if winner, taken := out[svc]; taken {
			t.problem(ref, "spec.host", SeverityWarning, "Conflicted",
				fmt.Sprintf("DestinationRule %s/%s, older, already applies to Service %s/%s; this one is ignored", winner.Namespace, winner.Name, svc.ns, svc.name))
			continue
		}
		out[svc] = dr
		t.res.IstioObjects = append(t.res.IstioObjects, ref)
		t.policyUnsupported(ref, "spec.trafficPolicy", dr.Spec.GetTrafficPolicy())
		for i, s := range dr.Spec.GetSubsets() {
			t.policyUnsupported(ref, fmt.Sprintf("spec.subsets[%d].trafficPolicy", i), s.GetTrafficPolicy())
		}
	}
	return out
}

// policyUnsupported reports the traffic policy fields Portico ignores.
func (t *istioProcessor) policyUnsupported(ref ObjectRef, field string, p *istionet.TrafficPolicy) {
	if p == nil {
		return
	}
	warn := func(f, what string) {
		t.problem(ref, field+"."+f, SeverityWarning, reasonUnsupportedField, what+": not supported, ignored")
	}
	if p.GetTls() != nil {
		warn("tls", "client TLS (use a Gateway API BackendTLSPolicy for TLS to backends)")
	}
	if p.GetTunnel() != nil || p.GetProxyProtocol() != nil || p.GetRetryBudget() != nil {
		warn("tunnel", "tunnel, proxyProtocol and retryBudget")
	}
	for i, pl := range p.GetPortLevelSettings() {
		if pl.GetTls() != nil {
			warn(fmt.Sprintf("portLevelSettings[%d].tls", i), "client TLS")
		}
	}
	lb := p.GetLoadBalancer()
	if lb.GetSimple() == istionet.LoadBalancerSettings_PASSTHROUGH {
		warn("loadBalancer.simple", "PASSTHROUGH")
	}
	if lb.GetLocalityLbSetting() != nil || lb.GetZoneAwareLbSetting() != nil || lb.GetWarmup() != nil {
		warn("loadBalancer.localityLbSetting", "locality, zone-aware and warmup settings")
	}
	if lb.GetConsistentHash().GetHttpQueryParameterName() != "" {
		warn("loadBalancer.consistentHash.httpQueryParameterName", "hashing on a query parameter")
	}
	if h := p.GetConnectionPool().GetHttp(); h != nil && (h.GetHttp1MaxPendingRequests() != 0 || h.GetMaxRequestsPerConnection() != 0 ||
		h.GetMaxRetries() != 0 || h.GetIdleTimeout() != nil || h.GetMaxConcurrentStreams() != 0) {
		warn("connectionPool.http", "http1MaxPendingRequests, maxRequestsPerConnection, maxRetries, idleTimeout, maxConcurrentStreams (http2MaxRequests is used)")
	}
	if c := p.GetConnectionPool().GetTcp(); c != nil && (c.GetConnectTimeout() != nil || c.GetTcpKeepalive() != nil ||
		c.GetMaxConnectionDuration() != nil || c.GetIdleTimeout() != nil) {
		warn("connectionPool.tcp", "connectTimeout, tcpKeepalive, maxConnectionDuration, idleTimeout (maxConnections is used)")
	}
	if o := p.GetOutlierDetection(); o != nil && (o.GetConsecutiveLocalOriginFailures() != nil || len(o.GetOutlierDetectionHttpErrorCodes()) > 0 || o.GetMinHealthPercent() != 0) {
		warn("outlierDetection", "consecutiveLocalOriginFailures, outlierDetectionHttpErrorCodes and minHealthPercent")
	}
}

// effectivePolicy merges a subset's policy over the rule's, then the
// settings for port over both, field by field, as Istio does.
func effectivePolicy(top, subset *istionet.TrafficPolicy, port int32) (lb *istionet.LoadBalancerSettings,
	pool *istionet.ConnectionPoolSettings, od *istionet.OutlierDetection) {
	for _, p := range []*istionet.TrafficPolicy{top, subset} {
		if p == nil {
			continue
		}
		lb = cmp.Or(p.GetLoadBalancer(), lb)
		pool = cmp.Or(p.GetConnectionPool(), pool)
		od = cmp.Or(p.GetOutlierDetection(), od)
		for _, pl := range p.GetPortLevelSettings() {
			if int32(pl.GetPort().GetNumber()) == port {
				lb = cmp.Or(pl.GetLoadBalancer(), lb)
				pool = cmp.Or(pl.GetConnectionPool(), pool)
				od = cmp.Or(pl.GetOutlierDetection(), od)
			}
		}
	}
	return lb, pool, od
}

// balancing converts the effective policy; nil when it asks for nothing
// beyond round-robin.
func balancing(lb *istionet.LoadBalancerSettings, pool *istionet.ConnectionPoolSettings, od *istionet.OutlierDetection) *router.Balancing {
	b := &router.Balancing{}
	switch lb.GetSimple() {
	case istionet.LoadBalancerSettings_LEAST_REQUEST, istionet.LoadBalancerSettings_LEAST_CONN: //nolint:staticcheck // deprecated, still written
		b.Policy = router.LeastRequest
	case istionet.LoadBalancerSettings_RANDOM:
		b.Policy = router.Random
	}
	if ch := lb.GetConsistentHash(); ch != nil {
		b.Policy = router.ConsistentHash
		b.HashHeader, b.HashCookie, b.HashSourceIP = ch.GetHttpHeaderName(), ch.GetHttpCookie().GetName(), ch.GetUseSourceIp()
	}
	if n := pool.GetHttp().GetHttp2MaxRequests(); n > 0 {
		b.MaxRequests = n
	}
	if n := pool.GetTcp().GetMaxConnections(); n > 0 && (b.MaxRequests == 0 || n < b.MaxRequests) {
		b.MaxRequests = n
	}
	if od != nil {
		o := &router.Outlier{BaseEjection: 30 * time.Second, MaxEjectionPercent: 10}
		if v := od.GetConsecutive_5XxErrors(); v != nil {
			o.Consecutive5xx = int32(v.GetValue())
		}
		if v := od.GetConsecutiveGatewayErrors(); v != nil {
			o.ConsecutiveGatewayErrors = int32(v.GetValue())
		}
		if od.GetConsecutive_5XxErrors() == nil && od.GetConsecutiveGatewayErrors() == nil {
			o.Consecutive5xx = 5 // Istio's default
		}
		if d := od.GetBaseEjectionTime(); d != nil {
			o.BaseEjection = d.AsDuration()
		}
		if od.GetMaxEjectionPercent() > 0 {
			o.MaxEjectionPercent = int(od.GetMaxEjectionPercent())
		}
		if o.Consecutive5xx > 0 || o.ConsecutiveGatewayErrors > 0 {
			b.Outlier = o
		}
	}
	if *b == (router.Balancing{}) {
		return nil
	}
	return b
}

// applyDestinationRule narrows a backend to a subset and applies the
// traffic policy of the Service's DestinationRule.
func (t *istioProcessor) applyDestinationRule(in vsInput, field string, svc nsName, port servicePortRef, be *router.Backend, subset string) *router.Backend {
	dr := t.istioDRs[svc]
	if dr == nil {
		if subset != "" {
			return t.destinationFailed(in, field, reasonUnresolvedRef, fmt.Sprintf("subset %q: no DestinationRule applies to Service %s/%s", subset, svc.ns, svc.name))
		}
		return be
	}
	var labels map[string]string
	var subsetPolicy *istionet.TrafficPolicy
	if subset != "" {
		i := slices.IndexFunc(dr.Spec.GetSubsets(), func(s *istionet.Subset) bool { return s.GetName() == subset })
		if i < 0 {
			return t.destinationFailed(in, field, reasonUnresolvedRef, fmt.Sprintf("subset %q is not defined by DestinationRule %s/%s", subset, dr.Namespace, dr.Name))
		}
		s := dr.Spec.GetSubsets()[i]
		labels, subsetPolicy = s.GetLabels(), s.GetTrafficPolicy()
	}
	bal := balancing(effectivePolicy(dr.Spec.GetTrafficPolicy(), subsetPolicy, port.number))
	if labels == nil && bal == nil {
		return be
	}
	out, warn := t.backends.subset(svc, port, subset, labels, bal)
	if warn != "" {
		t.problem(in.ref, field, SeverityWarning, reasonNoReadyEndpoints, warn)
	}
	return out
}

func (t *istioProcessor) destinationFailed(in vsInput, field, reason, msg string) *router.Backend {
	t.problem(in.ref, field, SeverityError, reason, msg+"; requests get 503")
	return &router.Backend{Name: "invalid", Status: 503, Reason: msg}
}
