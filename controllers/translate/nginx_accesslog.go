package translate

import "github.com/portico-dev/portico/router"

// enable-access-log: "false" leaves a route's requests out of Portico's
// access log.

func init() {
	registerNginx(
		NginxAnnotation{Name: "enable-access-log", Support: NginxSupported, Default: "true",
			Note: "\"false\" writes no access-log line (--access-log) for the Ingress's requests; metrics and traces are kept."},
	)
	onNginxRoute(920, "enable-access-log", func(n *nginxIngress, _ nginxPath, r *router.Route) {
		if !n.routingBool("enable-access-log", true, "true", "false") {
			r.NoAccessLog = true
		}
	})
}
