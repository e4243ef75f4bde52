package translate

import (
	"crypto/x509"
	"fmt"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/portico-dev/portico/router"
	certs "github.com/portico-dev/portico/tls"
)

// Portico's Ingress annotations. Values are parsed strictly; nothing is
// passed through to configuration as text.
const (
	AnnotationSSLRedirect       = "portico.dev/ssl-redirect"
	AnnotationHSTS              = "portico.dev/hsts"
	AnnotationHSTSSubdomains    = "portico.dev/hsts-include-subdomains"
	AnnotationHSTSPreload       = "portico.dev/hsts-preload"
	AnnotationClientCASecret    = "portico.dev/client-ca-secret"
	AnnotationSSLPassthrough    = "portico.dev/ssl-passthrough"
	reasonSecretNotFound        = "SecretNotFound"
	reasonInvalidSecret         = "InvalidSecret"
	reasonInvalidCertificate    = "InvalidCertificate"
	reasonCertificateNotForHost = "CertificateHostMismatch"
	reasonInvalidAnnotation     = "InvalidAnnotation"
	reasonNoCertificate         = "NoCertificateSource"
	defaultHSTSMaxAge           = 31536000
)

// ingressTLS collects the certificates of one Ingress's spec.tls entries
// and marks their hosts as TLS hosts. A broken entry is reported and its
// hosts fall back to the default certificate.
func (t *ingressProcessor) ingressTLS(ing *networkingv1.Ingress, ref ObjectRef) {
	var clientCAs *certsPool
	if v, ok := ing.Annotations[AnnotationClientCASecret]; ok {
		clientCAs = t.clientCAs(ing, ref, v)
	}
	for i, entry := range ing.Spec.TLS {
		field := fmt.Sprintf("spec.tls[%d]", i)
		hosts := entry.Hosts
		if len(hosts) == 0 {
			hosts = ruleHosts(ing)
		}
		for _, h := range hosts {
			t.tlsHosts[strings.ToLower(h)] = true
		}
		if entry.SecretName == "" {
			if t.opts.ACME {
				if clientCAs != nil {
					t.problem(ref, "metadata.annotations["+AnnotationClientCASecret+"]", SeverityError, reasonInvalidAnnotation,
						"client certificates cannot be required on ACME-managed hosts yet; give the TLS entry a secretName")
				}
				t.res.ACMEHosts = append(t.res.ACMEHosts, ACMEHost{Hosts: hosts, Source: ref})
				continue
			}
			t.problem(ref, field+".secretName", SeverityError, reasonNoCertificate,
				"no secretName and ACME is not enabled (--acme-ca); the default certificate is served for "+strings.Join(hosts, ", "))
			continue
		}
		cert, msg, reason := t.secretCertificate(ing.Namespace, entry.SecretName)
		if cert == nil {
			t.problem(ref, field+".secretName", SeverityError, reason, msg+"; the default certificate is served for "+strings.Join(hosts, ", "))
			continue
		}
		for _, h := range hosts {
			if cert.Leaf.VerifyHostname(strings.TrimPrefix(h, "*.")) != nil && !leafHasName(cert.Leaf.DNSNames, h) {
				t.problem(ref, field+".hosts", SeverityWarning, reasonCertificateNotForHost, fmt.Sprintf(
					"certificate in Secret %s/%s is not valid for host %q (it names %s)", ing.Namespace, entry.SecretName, h, strings.Join(cert.Leaf.DNSNames, ", ")))
			}
		}
		c := certs.Certificate{Hosts: hosts, Cert: cert, Source: "Secret/" + ing.Namespace + "/" + entry.SecretName}
		if clientCAs != nil {
			c.ClientCAs, c.ClientCASource = clientCAs.pool, clientCAs.name
		}
		t.res.Certificates = append(t.res.Certificates, c)
	}
}

func leafHasName(names []string, h string) bool {
	for _, n := range names {
		if strings.EqualFold(n, h) {
			return true
		}
	}
	return false
}

func ruleHosts(ing *networkingv1.Ingress) []string {
	var hosts []string
	for _, r := range ing.Spec.Rules {
		if r.Host != "" {
			hosts = append(hosts, r.Host)
		}
	}
	return hosts
}

// certsPool is a parsed client-CA bundle and the Secret it came from.
type certsPool struct {
	pool *x509.CertPool
	name string
}

func (t *ingressProcessor) clientCAs(ing *networkingv1.Ingress, ref ObjectRef, v string) *certsPool {
	ns, name, ok := strings.Cut(v, "/")
	if !ok {
		ns, name = ing.Namespace, v
	}
	field := "metadata.annotations[" + AnnotationClientCASecret + "]"
	sec := t.secret(nsName{ns, name})
	found := sec != nil
	if !found {
		t.problem(ref, field, SeverityError, reasonSecretNotFound, fmt.Sprintf(
			"client CA Secret %s/%s not found; the Ingress's TLS hosts refuse every connection until it exists", ns, name))
		return &certsPool{pool: x509.NewCertPool(), name: "Secret/" + ns + "/" + name}
	}
	data := sec.Data["ca.crt"]
	pool, err := certs.ParseCAs(data)
	if err != nil {
		t.problem(ref, field, SeverityError, reasonInvalidSecret, fmt.Sprintf(
			"client CA Secret %s/%s key ca.crt: %v; the Ingress's TLS hosts refuse every connection until it is fixed", ns, name, err))
		pool = x509.NewCertPool()
	}
	return &certsPool{pool: pool, name: "Secret/" + ns + "/" + name}
}

// hsts parses the HSTS annotations into a header value; "" when off.
func (t *ingressProcessor) hsts(ing *networkingv1.Ingress, ref ObjectRef) string {
	v, ok := ing.Annotations[AnnotationHSTS]
	if !ok || v == "false" {
		return ""
	}
	maxAge := defaultHSTSMaxAge
	if v != "true" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			t.problem(ref, "metadata.annotations["+AnnotationHSTS+"]", SeverityError, reasonInvalidAnnotation,
				fmt.Sprintf("%q: want \"true\", \"false\" or a max-age in seconds", v))
			return ""
		}
		maxAge = n
	}
	out := "max-age=" + strconv.Itoa(maxAge)
	if t.boolAnnotation(ing, ref, AnnotationHSTSSubdomains, false) {
		out += "; includeSubDomains"
	}
	if t.boolAnnotation(ing, ref, AnnotationHSTSPreload, false) {
		out += "; preload"
	}
	return out
}

// boolAnnotation reads "true"/"false"; anything else is reported and def
// used.
func (t *ingressProcessor) boolAnnotation(ing *networkingv1.Ingress, ref ObjectRef, key string, def bool) bool {
	v, ok := ing.Annotations[key]
	if !ok {
		return def
	}
	switch v {
	case "true":
		return true
	case "false":
		return false
	}
	t.problem(ref, "metadata.annotations["+key+"]", SeverityError, reasonInvalidAnnotation,
		fmt.Sprintf("%q: want \"true\" or \"false\"", v))
	return def
}

// applyRedirects marks the Ingress routes of TLS hosts on the shared
// listeners for the HTTP→HTTPS redirect, unless their Ingress turned it
// off. An Ingress's spec.tls never redirects routes of other APIs: Gateway
// listeners redirect only what their own routes say, Istio servers only by
// tls.httpsRedirect.
func (t *ingressProcessor) applyRedirects() {
	for i := range t.res.Config.Routes {
		r := &t.res.Config.Routes[i]
		if r.Source.Kind == ingressKind && r.Listener == "" && t.tlsHosts[r.Host] &&
			!t.noRedirect[ingressKind+"/"+r.Source.Namespace+"/"+r.Source.Name] {
			r.HTTPSRedirect = true
		}
	}
}

// passthroughPath is the claim path of a TLS passthrough host: it claims
// the whole host, apart from HTTP paths.
const passthroughPath = "\x00passthrough"

// passthroughConflict is the message of a passthrough host an older
// Ingress routes.
func passthroughConflict(host string, winner ObjectRef) string {
	return fmt.Sprintf("TLS passthrough for host %q is already routed by %s, which is older", host, winner)
}

// ingressPassthrough routes each rule host of a passthrough Ingress by SNI
// to the backend of the rule's first path.
func (t *ingressProcessor) ingressPassthrough(ing *networkingv1.Ingress, ref ObjectRef) {
	for ri, rule := range ing.Spec.Rules {
		field := fmt.Sprintf("spec.rules[%d]", ri)
		host, hostMatch, err := ingressHost(rule.Host)
		if err != "" {
			t.problem(ref, field+".host", SeverityError, reasonInvalidHost, err)
			continue
		}
		if hostMatch == router.HostAny {
			t.problem(ref, field+".host", SeverityError, reasonInvalidHost, "TLS passthrough routes by SNI and needs a host")
			continue
		}
		if rule.HTTP == nil || len(rule.HTTP.Paths) == 0 {
			t.problem(ref, field+".http", SeverityError, reasonUnsupportedBackend, "TLS passthrough needs a path with a backend")
			continue
		}
		key := claimKey{hostMatch: hostMatch, host: host, path: passthroughPath}
		if t.frag == nil {
			if winner, taken := t.claims[key]; taken {
				t.problem(ref, field+".host", SeverityError, reasonRouteConflict, passthroughConflict(host, winner))
				continue
			}
			t.claims[key] = ref
		}
		mark := len(t.res.Problems)
		backend := t.ingressBackend(ref, ing.Namespace, &rule.HTTP.Paths[0].Backend, func() string {
			return field + ".http.paths[0].backend"
		})
		route := router.L4Route{
			Host: host, HostMatch: hostMatch, Backends: backend,
			Source: router.Source{Kind: ingressKind, Namespace: ing.Namespace, Name: ing.Name, Rule: ri, Path: 0},
		}
		if t.frag != nil {
			t.frag.passthrough = append(t.frag.passthrough, fragL4{key: key, route: route, problems: t.takeProblems(mark),
				field: field + ".host"})
			continue
		}
		t.res.Config.Passthrough = append(t.res.Config.Passthrough, route)
	}
}
