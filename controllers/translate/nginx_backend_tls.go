package translate

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/portico-dev/portico/router"
)

// Backend TLS and the annotations of this group Portico does not honour
// yet, registered so that they are reported rather than dropped.

func init() {
	const notYet = "not supported yet: "
	registerNginx(
		NginxAnnotation{Name: "proxy-ssl-name", Support: NginxSupported,
			Note: "the name sent as SNI (and checked when the certificate is verified) on HTTPS/GRPCS backend connections."},
		NginxAnnotation{Name: "proxy-ssl-server-name", Support: NginxDifferent, Default: "off",
			Note: "Portico always sends SNI to TLS backends (proxy-ssl-name, else the Service's DNS name); \"off\" is accepted and SNI is still sent."},
		NginxAnnotation{Name: "proxy-ssl-secret", Support: NginxUnsupported,
			Note: notYet + "client certificates and a CA for backend connections; use a Gateway API BackendTLSPolicy for the CA. HTTPS backends are not verified."},
		NginxAnnotation{Name: "proxy-ssl-verify", Support: NginxUnsupported, Default: "off",
			Note: notYet + "\"on\" needs the CA of proxy-ssl-secret; backends of backend-protocol HTTPS/GRPCS are not verified (the default \"off\")."},
		NginxAnnotation{Name: "proxy-ssl-verify-depth", Support: NginxUnsupported, Default: "1",
			Note: notYet + "Portico verifies whole chains when it verifies."},
		NginxAnnotation{Name: "proxy-ssl-protocols", Support: NginxUnsupported,
			Note: notYet + "backend connections use TLS 1.2 and 1.3."},
		NginxAnnotation{Name: "proxy-ssl-ciphers", Support: NginxUnsupported,
			Note: notYet + "Go's default cipher suites are used."},
		NginxAnnotation{Name: "custom-http-errors", Support: NginxUnsupported,
			Note: notYet + "backend error responses are passed to the client as they are (the ConfigMap key custom-http-errors is ignored too)."},
		NginxAnnotation{Name: "default-backend", Support: NginxUnsupported,
			Note: notYet + "a path whose Service has no endpoints answers 503 instead of going to this Service."},
	)
	onNginxRoute(31, "proxy-ssl-name", nginxProxySSLName)
}

// nginxProxySSLName sets the SNI of the route's TLS backends.
func nginxProxySSLName(n *nginxIngress, _ nginxPath, r *router.Route) {
	v, ok := n.value("proxy-ssl-name")
	if !ok {
		return
	}
	name := strings.ToLower(strings.TrimSpace(v))
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		n.problem("proxy-ssl-name", SeverityError, reasonInvalidAnnotation, fmt.Sprintf("%q: %s; the default name is sent", v, strings.Join(errs, "; ")))
		return
	}
	for i := range r.Backends {
		if b := r.Backends[i].Backend; b != nil && b.TLS != nil {
			c := *b
			tls := &router.UpstreamTLS{ServerName: name, CAPEM: b.TLS.CAPEM, CASource: b.TLS.CASource,
				SubjectAltNames: b.TLS.SubjectAltNames, InsecureSkipVerify: b.TLS.InsecureSkipVerify}
			c.TLS = tls
			c.Name = b.Name + "#sni=" + name
			r.Backends[i].Backend = &c
		}
	}
}
