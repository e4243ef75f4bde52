package translate

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/portico-dev/portico/router"
)

// Backend TLS of ingress-nginx (proxy-ssl-*): how Portico speaks TLS to
// the backends of backend-protocol HTTPS and GRPCS: the SNI, the client
// certificate and CA of proxy-ssl-secret, verification and its depth, the
// protocol versions.

func init() {
	registerNginx(
		NginxAnnotation{Name: "proxy-ssl-name", Support: NginxSupported,
			Note: "the name checked when the certificate is verified, and sent as SNI with proxy-ssl-server-name \"on\" (honoured also without proxy-ssl-secret, which ingress-nginx needs for any proxy-ssl-* annotation)."},
		NginxAnnotation{Name: "proxy-ssl-server-name", Support: NginxDifferent, Default: "off",
			Note: "\"on\" sends SNI (proxy-ssl-name, else the Service's DNS name name.namespace.svc); \"off\" sends none, as nginx. " +
				"Without proxy-ssl-name the certificate is checked against the Service's DNS name (nginx: the upstream's name)."},
		NginxAnnotation{Name: "proxy-ssl-secret", Support: NginxSupported,
			Note: "namespace/name (or name): tls.crt and tls.key are the client certificate presented to HTTPS/GRPCS backends, ca.crt the CAs " +
				"proxy-ssl-verify trusts. A Secret in another namespace needs the ConfigMap's allow-cross-namespace-resources \"true\"; " +
				"a missing Secret, an unreadable certificate or key, or only one of tls.crt and tls.key make the routes answer 503."},
		NginxAnnotation{Name: "proxy-ssl-verify", Support: NginxSupported, Default: "off",
			Note: "\"on\" verifies the backend's certificate against ca.crt of proxy-ssl-secret and the name (see proxy-ssl-name); " +
				"\"on\" without a CA, or a value other than on/off, makes the routes answer 503 (ingress-nginx takes an invalid value as off)."},
		NginxAnnotation{Name: "proxy-ssl-verify-depth", Support: NginxSupported, Default: "1",
			Note: "the most certificates allowed between the backend's and a CA of ca.crt, plus one (1: issued by the CA itself)."},
		NginxAnnotation{Name: "proxy-ssl-protocols", Support: NginxDifferent, Default: "TLSv1.2",
			Note: "TLSv1.2 and TLSv1.3 are honoured; older versions are never offered (a Warning says so), and a list with neither (or an unknown name) " +
				"makes the routes answer 503 (ingress-nginx falls back to its default). Unset, Portico offers TLS 1.2 and 1.3, ingress-nginx TLS 1.2 only."},
		NginxAnnotation{Name: "proxy-ssl-ciphers", Support: NginxUnsupported,
			Note: "not supported: Go's default cipher suites are used."},
	)
	onNginxIngress(126, "proxy-ssl", nginxProxySSLIngress)
	onNginxRoute(31, "proxy-ssl", nginxProxySSLRoute)
}

// nginxProxySSL is what the proxy-ssl-* annotations of one Ingress say.
type nginxProxySSL struct {
	name      string // proxy-ssl-name, "" for the Service's DNS name
	sni       bool
	verify    bool
	depth     int
	min, max  uint16
	ca        []byte
	cert, key []byte
	secret    string // namespace/name of proxy-ssl-secret
}

// nginxProxySSLIngress reads the proxy-ssl-* annotations once per Ingress.
func nginxProxySSLIngress(n *nginxIngress) {
	p := &nginxProxySSL{depth: 1}
	n.proxySSL = p
	if v, ok := n.value("proxy-ssl-name"); ok {
		name := strings.ToLower(strings.TrimSpace(v))
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			n.problem("proxy-ssl-name", SeverityError, reasonInvalidAnnotation, fmt.Sprintf("%q: %s; the default name is used", v, strings.Join(errs, "; ")))
		} else {
			p.name = name
		}
	}
	p.sni = n.routingBool("proxy-ssl-server-name", false, "on", "off")
	switch v, _ := n.value("proxy-ssl-verify"); strings.TrimSpace(v) {
	case "", "off":
	case "on":
		p.verify = true
	default:
		n.failClosed("proxy-ssl-verify", reasonInvalidAnnotation, "proxy-ssl-verify must be on or off, not "+quote(v))
	}
	if v, ok := n.value("proxy-ssl-verify-depth"); ok {
		d, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || d < 1 || d > 100 {
			n.problem("proxy-ssl-verify-depth", SeverityError, reasonInvalidAnnotation, fmt.Sprintf("%q: want a depth of 1 to 100; 1 is used", v))
		} else {
			p.depth = d
		}
	}
	n.proxySSLProtocols(p)
	if !n.proxySSLSecret(p) {
		return // the routes answer 503 already
	}
	if p.verify && len(p.ca) == 0 && p.secret != "" {
		n.failClosed("proxy-ssl-verify", "InvalidSecret", "proxy-ssl-verify is on but Secret "+p.secret+" has no ca.crt to verify the backend with")
	} else if p.verify && p.secret == "" {
		n.failClosed("proxy-ssl-verify", reasonInvalidAnnotation, "proxy-ssl-verify is on but no proxy-ssl-secret gives the CA (ca.crt) to verify the backend with")
	}
}

// proxySSLProtocols reads proxy-ssl-protocols into p's version bounds.
func (n *nginxIngress) proxySSLProtocols(p *nginxProxySSL) {
	v, ok := n.value("proxy-ssl-protocols")
	if !ok {
		return
	}
	var versions []uint16
	var old []string
	for _, f := range strings.Fields(v) {
		switch f {
		case "TLSv1.2":
			versions = append(versions, tls.VersionTLS12)
		case "TLSv1.3":
			versions = append(versions, tls.VersionTLS13)
		case "SSLv2", "SSLv3", "TLSv1", "TLSv1.1":
			old = append(old, f)
		default:
			n.failClosed("proxy-ssl-protocols", reasonInvalidAnnotation, "unknown protocol "+quote(f)+" (want TLSv1.2 and/or TLSv1.3)")
			return
		}
	}
	if len(old) > 0 {
		n.problem("proxy-ssl-protocols", SeverityWarning, "UnsupportedAnnotation", fmt.Sprintf(
			"%s: Portico never offers TLS versions older than 1.2 to backends", strings.Join(old, " ")))
	}
	if len(versions) == 0 {
		n.failClosed("proxy-ssl-protocols", reasonInvalidAnnotation, quote(v)+" names neither TLSv1.2 nor TLSv1.3")
		return
	}
	p.min, p.max = versions[0], versions[0]
	for _, ver := range versions {
		p.min, p.max = min(p.min, ver), max(p.max, ver)
	}
}

// proxySSLSecret reads the client certificate and CA of proxy-ssl-secret;
// false when the Secret is unusable (reported, failed closed).
func (n *nginxIngress) proxySSLSecret(p *nginxProxySSL) bool {
	ref, ok := n.value("proxy-ssl-secret")
	if !ok {
		return true
	}
	ns, name, ok := n.secretRef(strings.TrimSpace(ref))
	if !ok {
		n.failClosed("proxy-ssl-secret", reasonInvalidAnnotation, "proxy-ssl-secret "+quote(ref)+" is not a Secret name")
		return false
	}
	if ns != n.ing.Namespace && n.global["allow-cross-namespace-resources"] != "true" {
		n.failClosed("proxy-ssl-secret", reasonInvalidAnnotation, "proxy-ssl-secret names a Secret in another namespace, which the ConfigMap "+
			"does not allow (allow-cross-namespace-resources)")
		return false
	}
	p.secret = ns + "/" + name
	s := n.t.secret(nsName{ns, name})
	if s == nil {
		n.failClosed("proxy-ssl-secret", reasonSecretNotFound, "Secret "+p.secret+" not found")
		return false
	}
	get := func(k string) []byte {
		if v, ok := s.StringData[k]; ok {
			return []byte(v)
		}
		return s.Data[k]
	}
	cert, key, ca := get("tls.crt"), get("tls.key"), get("ca.crt")
	switch {
	case len(cert) > 0 && len(key) > 0:
		if _, err := tls.X509KeyPair(cert, key); err != nil {
			n.failClosed("proxy-ssl-secret", "InvalidSecret", "Secret "+p.secret+": tls.crt and tls.key: "+err.Error())
			return false
		}
		p.cert, p.key = cert, key
	case len(cert) > 0 || len(key) > 0:
		n.failClosed("proxy-ssl-secret", "InvalidSecret", "Secret "+p.secret+" has only one of tls.crt and tls.key")
		return false
	}
	if len(ca) > 0 {
		if !x509.NewCertPool().AppendCertsFromPEM(ca) {
			n.failClosed("proxy-ssl-secret", "InvalidSecret", "Secret "+p.secret+": ca.crt holds no PEM certificate")
			return false
		}
		p.ca = ca
	}
	if len(p.cert) == 0 && len(p.ca) == 0 {
		n.failClosed("proxy-ssl-secret", "InvalidSecret", "Secret "+p.secret+" has neither tls.crt/tls.key nor ca.crt")
		return false
	}
	return true
}

// nginxProxySSLRoute applies the Ingress's proxy-ssl-* settings to the
// route's TLS backends (those of backend-protocol HTTPS and GRPCS).
func nginxProxySSLRoute(n *nginxIngress, _ nginxPath, r *router.Route) {
	p := n.proxySSL
	if p == nil {
		return
	}
	for i := range r.Backends {
		b := r.Backends[i].Backend
		if b == nil || b.TLS == nil {
			continue
		}
		c := *b
		name := p.name
		if name == "" {
			name = nginxServiceHost(n, r.Source, b)
		}
		t := &router.UpstreamTLS{ServerName: name, NoSNI: !p.sni, CAPEM: b.TLS.CAPEM, CASource: b.TLS.CASource,
			SubjectAltNames: b.TLS.SubjectAltNames, InsecureSkipVerify: b.TLS.InsecureSkipVerify,
			MinVersion: p.min, MaxVersion: p.max}
		if p.verify && len(p.ca) > 0 {
			t.CAPEM, t.CASource, t.InsecureSkipVerify, t.VerifyDepth = p.ca, "Secret "+p.secret+" ca.crt", false, p.depth
		}
		if len(p.cert) > 0 {
			t.ClientCertPEM, t.ClientKeyPEM, t.ClientCertSource = p.cert, p.key, "Secret "+p.secret
		}
		c.TLS = t
		c.Name = b.Name + "#" + nginxTLSSuffix(t)
		r.Backends[i].Backend = &c
	}
}

// nginxTLSSuffix names a backend's TLS settings, so backends that differ
// only in them have different names in metrics and tools.
func nginxTLSSuffix(t *router.UpstreamTLS) string {
	s := "sni=" + t.ServerName
	if t.NoSNI {
		s = "name=" + t.ServerName
	}
	if !t.InsecureSkipVerify {
		s += ",verify"
	}
	if t.ClientCertSource != "" {
		s += ",client-cert"
	}
	return s
}
