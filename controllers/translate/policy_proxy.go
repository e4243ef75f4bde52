package translate

import (
	"fmt"
	"slices"
	"time"

	portico "github.com/portico-dev/portico/api/v1alpha1"
	"github.com/portico-dev/portico/router"
)

// The bounds of a TrafficPolicy's PROXY header timeout (also in CEL, but
// standalone mode reads YAML no API server validated).
const (
	minProxyTimeout = 100 * time.Millisecond
	maxProxyTimeout = time.Minute
)

const fieldProxyProtocol = "spec.clientIPDetection.proxyProtocol"

// convertProxyProtocol checks a TrafficPolicy's PROXY protocol setting; on
// failure it returns the field and why.
func convertProxyProtocol(pp *portico.ProxyProtocol) (*router.ProxyProtocol, string, string) {
	if len(pp.TrustedCIDRs) == 0 || len(pp.TrustedCIDRs) > 64 {
		return nil, fieldProxyProtocol + ".trustedCIDRs", "must list 1 to 64 CIDRs"
	}
	out := &router.ProxyProtocol{Timeout: router.DefaultProxyProtocolTimeout}
	for i, c := range pp.TrustedCIDRs {
		pfx, err := parseCIDR(c)
		if err != nil {
			return nil, fmt.Sprintf("%s.trustedCIDRs[%d]", fieldProxyProtocol, i), err.Error()
		}
		out.Trusted = append(out.Trusted, pfx)
	}
	if pp.Timeout != nil {
		if d := pp.Timeout.Duration; d < minProxyTimeout || d > maxProxyTimeout {
			return nil, fieldProxyProtocol + ".timeout", fmt.Sprintf("%s is not between %s and %s", d, minProxyTimeout, maxProxyTimeout)
		}
		out.Timeout = pp.Timeout.Duration
	}
	return out, "", ""
}

// proxyNotApplied is why a PROXY protocol setting cannot apply to a
// target other than a Gateway or one of its listeners.
const proxyNotApplied = fieldProxyProtocol + " is not applied to %s %s/%s: a PROXY header is read per connection, " +
	"before any route is chosen, so it applies only to a Gateway or one of its listeners (sectionName); the rest of the policy applies"

// applyProxyProtocol gives each port of Portico's Gateways the PROXY
// protocol setting of its winning TrafficPolicy (the listener's, else the
// Gateway's), and reports the settings that cannot apply: on other
// targets, or on one listener of a port whose listeners disagree. A policy
// that could not be built sets nothing (its routes answer 500).
func (a *attacher) applyProxyProtocol() {
	for _, p := range a.traf.parts {
		if p.proxy == nil {
			continue
		}
		for _, t := range p.targets {
			if t.kind != kindGateway || t.group != gatewayGroup {
				a.problem(p.ref, fieldProxyProtocol, SeverityWarning, "TargetNotSupported", fmt.Sprintf(proxyNotApplied, t.kind, p.ref.Namespace, t.name))
			}
		}
		for _, ing := range a.annotated[p] {
			a.problem(p.ref, fieldProxyProtocol, SeverityWarning, "TargetNotSupported", fmt.Sprintf(proxyNotApplied, ingressKind, ing.ns, ing.name))
		}
		for _, r := range a.filtered[p] {
			a.problem(p.ref, fieldProxyProtocol, SeverityWarning, "TargetNotSupported", fmt.Sprintf(proxyNotApplied, r.kind, r.ns, r.name))
		}
	}
	for i := range a.res.GatewayListeners {
		gl := &a.res.GatewayListeners[i]
		kind, ns, name, port, ok := router.ParseListenerKey(gl.Key)
		gw := a.gateways[nsName{ns, name}]
		if !ok || kind != kindGateway || gw == nil {
			continue
		}
		var winners []*policyPart
		var names []string
		for _, l := range gw.Spec.Listeners {
			if l.Port != port {
				continue
			}
			w := a.traf.winners[attachKey{kindGateway, ns, name, string(l.Name)}]
			if w == nil {
				w = a.traf.winners[attachKey{kindGateway, ns, name, ""}]
			}
			if w != nil && (w.proxy == nil || w.failed()) {
				w = nil
			}
			winners, names = append(winners, w), append(names, string(l.Name))
		}
		if len(winners) == 0 {
			continue
		}
		if j := slices.IndexFunc(winners, func(w *policyPart) bool { return w != winners[0] }); j > 0 {
			for _, w := range []*policyPart{winners[0], winners[j]} {
				if w != nil {
					a.problem(w.ref, fieldProxyProtocol, SeverityError, "Conflicted", fmt.Sprintf(
						"listeners %s and %s of Gateway %s/%s share port %d but not their PROXY protocol setting: the port does not require a PROXY header",
						names[0], names[j], ns, name, port))
				}
			}
			continue
		}
		if winners[0] != nil {
			gl.ProxyProtocol = winners[0].proxy
		}
	}
}
