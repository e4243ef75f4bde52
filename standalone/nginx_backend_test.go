package standalone

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/router"
)

// TestNginxBackendEndToEnd serves ingress-nginx Ingresses from YAML and
// checks custom-http-errors and default-backend, proxy-ssl-*,
// service-upstream and use-forwarded-headers as ingress-nginx documents
// them (annotations.md, configmap.md, user-guide/custom-errors.md, and
// test/e2e/annotations/customhttperrors.go, proxyssl.go,
// serviceupstream.go).
func TestNginxBackendEndToEnd(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var code int
		if _, err := fmt.Sscanf(r.URL.Path, "/status/%d", &code); err == nil {
			w.WriteHeader(code)
		}
		fmt.Fprintf(w, "app %s", r.URL.RequestURI())
	}))
	defer app.Close()
	errs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var code int
		_, _ = fmt.Sscan(r.Header.Get("X-Code"), &code)
		w.WriteHeader(code)
		fmt.Fprintf(w, "page %s code=%s format=%s orig=%s ns=%s ing=%s svc=%s port=%s", r.URL.RequestURI(), r.Header.Get("X-Code"),
			r.Header.Get("X-Format"), r.Header.Get("X-Original-URI"), r.Header.Get("X-Namespace"), r.Header.Get("X-Ingress-Name"),
			r.Header.Get("X-Service-Name"), r.Header.Get("X-Service-Port"))
	}))
	defer errs.Close()
	// An HTTPS backend that requires a client certificate of the CA.
	ca, caCert, caKey := issue(t, "ca", nil, true, false, nil, nil)
	srv, _, _ := issue(t, "secure.internal", []string{"secure.internal"}, false, false, caCert, caKey)
	client, _, _ := issue(t, "portico", nil, false, true, caCert, caKey)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	secure := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "secure client=%s sni=%q", r.TLS.PeerCertificates[0].Subject.CommonName, r.TLS.ServerName)
	}))
	secure.TLS = &tls.Config{Certificates: []tls.Certificate{srv.tls(t)}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	secure.StartTLS()
	defer secure.Close()

	_, appPort, _ := net.SplitHostPort(app.Listener.Addr().String())
	_, errPort, _ := net.SplitHostPort(errs.Listener.Addr().String())
	_, securePort, _ := net.SplitHostPort(secure.Listener.Addr().String())
	dead := deadPort(t)
	svc := func(name, clusterIP, port, epPort string) string {
		eps := ""
		if epPort != "" {
			eps = fmt.Sprintf(`---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: %s-1, labels: {kubernetes.io/service-name: %s}}
addressType: IPv4
ports: [{port: %s}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
`, name, name, epPort)
		}
		return fmt.Sprintf(`---
apiVersion: v1
kind: Service
metadata: {name: %s}
spec: {clusterIP: %s, ports: [{port: %s}]}
%s`, name, clusterIP, port, eps)
	}
	withSvc := func(doc, name, port string) string {
		return strings.ReplaceAll(doc, "name: app, port: {number: PORT}", "name: "+name+", port: {number: "+port+"}")
	}
	docs := []string{`apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: k8s.io/ingress-nginx}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
data: {use-forwarded-headers: "true", custom-http-errors: "418"}
---
apiVersion: v1
kind: Secret
metadata: {name: backend-client}
data: {tls.crt: ` + b64(client.crt) + `, tls.key: ` + b64(client.key) + `, ca.crt: ` + b64(ca.crt) + `}
`,
		svc("app", "None", appPort, appPort),
		svc("errors", "None", errPort, errPort),
		svc("empty", "None", appPort, ""),
		svc("viaip", "127.0.0.1", appPort, dead),
		svc("secure", "None", securePort, securePort),
		nginxIngress("errors", "errors.test", "/", "Prefix", map[string]string{"custom-http-errors": "404,503", "default-backend": "errors"}),
		withSvc(nginxIngress("unavailable", "unavailable.test", "/", "Prefix", map[string]string{"default-backend": "errors"}), "empty", appPort),
		nginxIngress("global-errors", "global.test", "/", "Prefix", nil),
		nginxIngress("bad-errors", "bad.test", "/", "Prefix", map[string]string{"custom-http-errors": "404,x"}),
		withSvc(nginxIngress("upstream", "upstream.test", "/", "Prefix", map[string]string{"service-upstream": "true"}), "viaip", appPort),
		withSvc(nginxIngress("endpoints", "endpoints.test", "/", "Prefix", nil), "viaip", appPort),
		nginxIngress("force", "force.test", "/", "Prefix", map[string]string{"force-ssl-redirect": "true"}),
		withSvc(nginxIngress("mtls", "mtls.test", "/", "Prefix", map[string]string{"backend-protocol": "HTTPS",
			"proxy-ssl-secret": "default/backend-client", "proxy-ssl-verify": "on", "proxy-ssl-name": "secure.internal",
			"proxy-ssl-server-name": "on"}), "secure", securePort),
		withSvc(nginxIngress("nocert", "nocert.test", "/", "Prefix", map[string]string{"backend-protocol": "HTTPS"}), "secure", securePort),
		withSvc(nginxIngress("wrongname", "wrongname.test", "/", "Prefix", map[string]string{"backend-protocol": "HTTPS",
			"proxy-ssl-secret": "backend-client", "proxy-ssl-verify": "on", "proxy-ssl-name": "other.internal"}), "secure", securePort),
		withSvc(nginxIngress("nosecret", "nosecret.test", "/", "Prefix", map[string]string{"backend-protocol": "HTTPS",
			"proxy-ssl-secret": "default/missing", "proxy-ssl-verify": "on"}), "secure", securePort),
	}
	yaml := strings.NewReplacer("PORT", appPort).Replace(strings.Join(docs, ""))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "nginx.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	snap, _, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := WithNginxConfig(translate.Options{ControllerName: "portico.dev/ingress-controller", IngressClass: "portico",
		DefaultBackend: "default/errors:" + errPort, Nginx: &translate.NginxOptions{}}, snap, "")
	if err != nil {
		t.Fatal(err)
	}
	res := translate.Translate(snap, opts)
	failed := map[string]bool{}
	for _, p := range res.Problems {
		if p.Severity == translate.SeverityError {
			failed[p.Object.Name] = true
		}
	}
	if len(failed) != 2 || !failed["bad-errors"] || !failed["nosecret"] {
		t.Errorf("Ingresses with errors: %v, want bad-errors and nosecret", failed)
	}
	rt := router.New(router.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	rt.Swap(router.Compile(res.Config))
	front := httptest.NewServer(rt)
	defer front.Close()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range []struct {
		host, path, xfp string
		code            int
		body            string
	}{
		// customhttperrors.go: the listed codes go to the default backend.
		{"errors.test", "/status/404?a=1", "", 404, "page /?a=1 code=404 format=text/html orig=/status/404?a=1 ns=default ing=errors svc=app port=" + appPort},
		{"errors.test", "/status/503", "", 503, "page / code=503 "},
		{"errors.test", "/status/500", "", 500, "app /status/500"},
		{"errors.test", "/status/418", "", 418, "app /status/418"}, // the annotation replaces the ConfigMap's list
		// default-backend: a Service without endpoints hands its requests over.
		{"unavailable.test", "/x", "", 503, "page /x code=503 format=text/html orig=/x ns=default ing=unavailable svc=empty"},
		// ConfigMap custom-http-errors with the controller's default backend.
		{"global.test", "/status/418", "", 418, "page / code=418 "},
		{"global.test", "/status/404", "", 404, "app /status/404"},
		{"bad.test", "/status/404", "", 503, ""},
		// serviceupstream.go: the ClusterIP, not the (dead) endpoints.
		{"upstream.test", "/u", "", 200, "app /u"},
		{"endpoints.test", "/u", "", 502, ""},
		// use-forwarded-headers: a trusted proxy's X-Forwarded-Proto decides.
		{"force.test", "/f", "", 308, ""},
		{"force.test", "/f", "https", 200, "app /f"},
		{"force.test", "/f", "http", 308, ""},
		// proxyssl.go: the client certificate of proxy-ssl-secret, verified.
		{"mtls.test", "/", "", 200, `secure client=portico sni="secure.internal"`},
		{"nocert.test", "/", "", 502, ""},
		{"wrongname.test", "/", "", 502, ""},
		{"nosecret.test", "/", "", 503, ""},
	} {
		req, _ := http.NewRequest("GET", front.URL+c.path, nil)
		req.Host = c.host
		req.Header.Set("Accept", "text/html")
		if c.xfp != "" {
			req.Header.Set("X-Forwarded-Proto", c.xfp)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || !strings.HasPrefix(string(b), c.body) {
			t.Errorf("%s%s (X-Forwarded-Proto %q): %d %q, want %d %q…", c.host, c.path, c.xfp, resp.StatusCode, b, c.code, c.body)
		}
	}
}

// deadPort returns a loopback port nothing listens on.
func deadPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return p
}
