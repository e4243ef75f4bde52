package standalone

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/controllers/translate"
)

// pemPair is a certificate and key in PEM, as a Secret holds them.
type pemPair struct{ crt, key []byte }

func (p pemPair) tls(t *testing.T) tls.Certificate {
	t.Helper()
	c, err := tls.X509KeyPair(p.crt, p.key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// issue makes a certificate for names (a CA when names is empty and isCA),
// signed by parent (self-signed when nil).
func issue(t *testing.T, cn string, names []string, isCA, client bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (pemPair, *x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage = true, true, x509.KeyUsageCertSign
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	k, _ := x509.MarshalPKCS8PrivateKey(key)
	return pemPair{pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k})}, c, key
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// indent prefixes every line of s.
func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix)
}

// TestClientCertificatePolicyMatrix is issue #10's matrix: for the
// Ingress, Istio and Gateway API front doors, over HTTP/1.1 and HTTP/2, a
// request reaches a host that requires client certificates only on a
// connection whose handshake presented one from that host's CA, whatever
// the SNI (or none) and the Host header say; a connection made for one name
// carries no request for a name its certificate does not cover.
func TestClientCertificatePolicyMatrix(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "backend for "+r.Host) }))
	defer be.Close()
	_, bport, _ := net.SplitHostPort(be.Listener.Addr().String())
	caPEM, caCert, caKey := issue(t, "client CA", nil, true, false, nil, nil)
	clientPEM, _, _ := issue(t, "client", nil, false, true, caCert, caKey)
	_, otherCert, otherKey := issue(t, "other CA", nil, true, false, nil, nil)
	strangerPEM, _, _ := issue(t, "stranger", nil, false, true, otherCert, otherKey)
	secure, _, _ := issue(t, "secure.test", []string{"secure.test"}, false, false, nil, nil)
	open, _, _ := issue(t, "open.test", []string{"open.test"}, false, false, nil, nil)
	mutual, _, _ := issue(t, "mutual.test", []string{"mutual.test"}, false, false, nil, nil)
	simple, _, _ := issue(t, "simple.test", []string{"simple.test"}, false, false, nil, nil)
	gw, _, _ := issue(t, "a.gw.test", []string{"a.gw.test"}, false, false, nil, nil)

	svc := fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: app, namespace: default}
spec: {ports: [{port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: app-1, namespace: default, labels: {kubernetes.io/service-name: app}}
addressType: IPv4
ports: [{port: %s}]
endpoints: [{addresses: ["127.0.0.1"]}]
`, bport)
	ingress := fmt.Sprintf(`apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: portico}
spec: {controller: portico.dev/ingress-controller}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: secure
  annotations: {portico.dev/client-ca-secret: client-ca, portico.dev/ssl-redirect: "false"}
spec:
  ingressClassName: portico
  tls: [{hosts: [secure.test], secretName: secure-tls}]
  rules: [{host: secure.test, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: open, annotations: {portico.dev/ssl-redirect: "false"}}
spec:
  ingressClassName: portico
  tls: [{hosts: [open.test], secretName: open-tls}]
  rules: [{host: open.test, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}}]
---
apiVersion: v1
kind: Secret
metadata: {name: client-ca}
data: {ca.crt: %s}
---
apiVersion: v1
kind: Secret
metadata: {name: secure-tls}
type: kubernetes.io/tls
data: {tls.crt: %s, tls.key: %s}
---
apiVersion: v1
kind: Secret
metadata: {name: open-tls}
type: kubernetes.io/tls
data: {tls.crt: %s, tls.key: %s}
`, b64(caPEM.crt), b64(secure.crt), b64(secure.key), b64(open.crt), b64(open.key))
	istio := fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8443, name: https-mutual, protocol: HTTPS}
    hosts: [mutual.test]
    tls: {mode: MUTUAL, credentialName: mutual-cred}
  - port: {number: 8443, name: https-simple, protocol: HTTPS}
    hosts: [simple.test]
    tls: {mode: SIMPLE, credentialName: simple-cred}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: default}
spec:
  hosts: [mutual.test, simple.test]
  gateways: [gw]
  http: [{route: [{destination: {host: app, port: {number: 80}}}]}]
---
apiVersion: v1
kind: Secret
metadata: {name: mutual-cred, namespace: default}
type: kubernetes.io/tls
data: {tls.crt: %s, tls.key: %s, ca.crt: %s}
---
apiVersion: v1
kind: Secret
metadata: {name: simple-cred, namespace: default}
type: kubernetes.io/tls
data: {tls.crt: %s, tls.key: %s}
`, b64(mutual.crt), b64(mutual.key), b64(caPEM.crt), b64(simple.crt), b64(simple.key))
	gatewayAPI := fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: portico}
spec: {controllerName: portico.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: default}
spec:
  gatewayClassName: portico
  listeners:
  - {name: https, port: 9443, protocol: HTTPS, tls: {certificateRefs: [{name: gw-tls}]}}
  tls:
    frontend:
      default:
        validation: {caCertificateRefs: [{group: "", kind: ConfigMap, name: client-ca-cm}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: client-ca-cm, namespace: default}
data:
  ca.crt: |
%s
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: default}
spec:
  parentRefs: [{name: web}]
  rules: [{backendRefs: [{name: app, port: 80}]}]
---
apiVersion: v1
kind: Secret
metadata: {name: gw-tls, namespace: default}
type: kubernetes.io/tls
data: {tls.crt: %s, tls.key: %s}
`, indent(string(caPEM.crt), "    "), b64(gw.crt), b64(gw.key))
	dir := t.TempDir()
	for name, data := range map[string]string{"svc.yaml": svc, "ingress.yaml": ingress, "istio.yaml": istio, "gateway.yaml": gatewayAPI} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bound := startRun(t, Options{Dir: dir, HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0",
		Translate: translate.Options{ControllerName: "portico.dev/ingress-controller", IngressClass: "portico",
			GatewayControllerName: "portico.dev/gateway-controller",
			Istio:                 &translate.IstioOptions{Selector: map[string]string{"istio": "ingressgateway"}, PerGateway: true}},
		GatewayPool: netip.MustParsePrefix("127.0.14.0/24"), Interval: 20 * time.Millisecond}, 4)
	addrs := map[string]string{"http": bound["http"], "ingress": bound["https"]}
	for _, a := range bound {
		switch {
		case strings.HasSuffix(a, ":8443"):
			addrs["istio"] = a
		case strings.HasSuffix(a, ":9443"):
			addrs["gateway"] = a
		}
	}
	if len(addrs) != 4 {
		t.Fatalf("listeners: %v", bound)
	}

	client := clientPEM.tls(t)
	stranger := strangerPEM.tls(t)
	type scenario struct {
		name, front, sni, host string
		cert                   *tls.Certificate
		want                   int // 0: the handshake must fail
	}
	var cases []scenario
	for _, d := range []struct{ front, protected, plain string }{
		{"ingress", "secure.test", "open.test"},
		{"istio", "mutual.test", "simple.test"},
	} {
		cases = append(cases,
			scenario{"no SNI, no certificate, protected Host", d.front, "", d.protected, nil, 421},
			scenario{"no SNI, no certificate, protected Host in capitals with port", d.front, "", strings.ToUpper(d.protected) + ":443", nil, 421},
			scenario{"plain SNI, no certificate, protected Host", d.front, d.plain, d.protected, nil, 421},
			scenario{"plain SNI, unrequested certificate, protected Host", d.front, d.plain, d.protected, &client, 421},
			scenario{"protected SNI, certificate, protected Host", d.front, d.protected, d.protected, &client, 200},
			scenario{"protected SNI, certificate, plain Host", d.front, d.protected, d.plain, &client, 421},
			scenario{"plain SNI, plain Host", d.front, d.plain, d.plain, nil, 200},
			scenario{"no SNI, plain Host", d.front, "", d.plain, nil, 200},
		)
	}
	// The Gateway requires client certificates on its whole port
	// (spec.tls.frontend): no certificate, no handshake.
	cases = append(cases,
		scenario{"Gateway: client certificate, SNI of the certificate, same Host", "gateway", "a.gw.test", "a.gw.test", &client, 200},
		scenario{"Gateway: client certificate, Host the connection's certificate does not cover", "gateway", "a.gw.test", "b.gw.test", &client, 421},
		scenario{"Gateway: no client certificate", "gateway", "a.gw.test", "a.gw.test", nil, 0},
		scenario{"Gateway: no SNI, no client certificate", "gateway", "", "a.gw.test", nil, 0},
		scenario{"Gateway: certificate of another CA", "gateway", "a.gw.test", "a.gw.test", &stranger, 0},
	)
	for _, proto := range []string{"h1", "h2"} {
		for _, tc := range cases {
			t.Run(proto+"/"+tc.front+"/"+tc.name, func(t *testing.T) {
				cfg := &tls.Config{ServerName: tc.sni, InsecureSkipVerify: true} //nolint:gosec // the test checks policy, not server identity
				if tc.cert != nil {
					cfg.Certificates = []tls.Certificate{*tc.cert}
				}
				tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: proto == "h2"}
				if proto == "h1" {
					tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
				}
				defer tr.CloseIdleConnections()
				req, _ := http.NewRequest("GET", "https://"+addrs[tc.front]+"/", nil)
				req.Host = tc.host
				resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(req)
				if tc.want == 0 {
					if err == nil {
						resp.Body.Close()
						t.Fatalf("the handshake succeeded: %d", resp.StatusCode)
					}
					return
				}
				if err != nil {
					t.Fatalf("request: %v", err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.want || (proto == "h2") != (resp.ProtoMajor == 2) {
					t.Fatalf("got %d %s %q, want %d", resp.StatusCode, resp.Proto, body, tc.want)
				}
			})
		}
	}

	// A certificate from another CA fails the handshake for the protected
	// host; over cleartext the protected host is refused (403).
	t.Run("stranger certificate", func(t *testing.T) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: "secure.test", InsecureSkipVerify: true, Certificates: []tls.Certificate{stranger}}} //nolint:gosec // test
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest("GET", "https://"+addrs["ingress"]+"/", nil)
		req.Host = "secure.test"
		if resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("a certificate of another CA was accepted: %d", resp.StatusCode)
		}
	})
	t.Run("cleartext", func(t *testing.T) {
		for host, want := range map[string]int{"secure.test": 403, "open.test": 200} {
			req, _ := http.NewRequest("GET", "http://"+addrs["http"]+"/", nil)
			req.Host = host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("cleartext %s: %d, want %d", host, resp.StatusCode, want)
			}
		}
	})
}
