package translate

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/portico-dev/portico/router"
)

// service-upstream: the route's Service backends are sent to the
// Service's ClusterIP and port, one endpoint, so kube-proxy (or whatever
// implements Services) picks the Pod instead of Portico.

func init() {
	registerNginx(NginxAnnotation{Name: "service-upstream", Support: NginxSupported, Default: "false",
		Note: "\"true\": requests go to the Service's ClusterIP and port as the one endpoint, not to its endpoints; " +
			"as in ingress-nginx, per-endpoint balancing, affinity and retries on another endpoint then have nothing to choose from. " +
			"A headless Service (no ClusterIP) keeps its endpoints, with a Warning."})
	// Before backend-protocol (30) and proxy-ssl-* (31), which copy the
	// backends with their endpoints.
	onNginxRoute(29, "service-upstream", nginxServiceUpstream)
}

func nginxServiceUpstream(n *nginxIngress, _ nginxPath, r *router.Route) {
	if !n.routingBool("service-upstream", false, "true", "false") {
		return
	}
	for i := range r.Backends {
		b := r.Backends[i].Backend
		if b == nil || b.Status != 0 {
			continue
		}
		ns, rest, ok := strings.Cut(b.Name, "/")
		name, port, ok2 := strings.Cut(rest, ":")
		if !ok || !ok2 {
			continue // not a Service port backend
		}
		svc := n.t.backends.service(nsName{ns, name})
		if svc == nil {
			continue
		}
		ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
		if err != nil {
			n.problem("service-upstream", SeverityWarning, "ServiceUpstreamHeadless", fmt.Sprintf(
				"Service %s/%s has no ClusterIP (%q); its endpoints are used", ns, name, svc.Spec.ClusterIP))
			continue
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			continue
		}
		c := *b
		c.Name = b.Name + "#service-upstream"
		c.Endpoints = []router.Endpoint{{Address: net.JoinHostPort(ip.String(), port)}}
		r.Backends[i].Backend = &c
	}
}
