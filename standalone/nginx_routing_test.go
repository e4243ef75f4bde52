package standalone

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/router"
)

// nginxIngress renders one Ingress of the ingress-nginx class with one
// path to the app Service.
func nginxIngress(name, host, path, pathType string, annotations map[string]string) string {
	var ann []string
	for k, v := range annotations {
		ann = append(ann, fmt.Sprintf("%q: %q", translate.NginxAnnotationPrefix+k, v))
	}
	return fmt.Sprintf(`---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: %s, creationTimestamp: "2026-01-01T00:00:0%dZ", annotations: {%s}}
spec:
  ingressClassName: nginx
  rules: [{host: %s, http: {paths: [{path: %q, pathType: %s, backend: {service: {name: app, port: {number: PORT}}}}]}}]
`, name, len(name)%10, strings.Join(ann, ", "), host, path, pathType)
}

// TestNginxRoutingEndToEnd serves ingress-nginx Ingresses from YAML and
// checks the behaviour ingress-nginx's documentation and e2e suite
// (test/e2e/annotations/rewrite.go, redirect.go, approot.go,
// fromtowwwredirect.go, upstreamvhost.go, xforwardedprefix.go) expect.
func TestNginxRoutingEndToEnd(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "uri=%s host=%s prefix=%s", r.URL.RequestURI(), r.Host, r.Header.Get("X-Forwarded-Prefix"))
	}))
	defer be.Close()
	host, port, _ := net.SplitHostPort(be.Listener.Addr().String())
	re := map[string]string{"use-regex": "true", "rewrite-target": "/new/backend"}
	docs := []string{`apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: k8s.io/ingress-nginx}
---
apiVersion: v1
kind: Service
metadata: {name: app}
spec: {ports: [{port: PORT}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: app-1, labels: {kubernetes.io/service-name: app}}
addressType: IPv4
ports: [{port: PORT}]
endpoints: [{addresses: [ADDR], conditions: {ready: true}}]
`,
		// rewrite.go "should use correct longest path match"
		nginxIngress("kube-lego", "a.test", "/.well-known/acme/challenge", "Prefix", nil),
		nginxIngress("rewrite-index", "a.test", "/", "Prefix", map[string]string{"rewrite-target": "/new/backend"}),
		// "should use ~* location modifier if regex annotation is present"
		nginxIngress("foo", "b.test", "/foo", "Prefix", nil),
		nginxIngress("regex", "b.test", "/foo.+", "ImplementationSpecific", re),
		// "should fail to use longest match for documented warning"
		nginxIngress("foobar", "c.test", "/foo/bar/bar", "Prefix", nil),
		nginxIngress("regex3", "c.test", "/foo/bar/[a-z]{3}", "ImplementationSpecific", re),
		// "should allow for custom rewrite parameters"
		nginxIngress("capture", "d.test", "/foo/bar/(.+)", "ImplementationSpecific",
			map[string]string{"use-regex": "true", "rewrite-target": "/new/backend/$1"}),
		nginxIngress("approot", "e.test", "/", "Prefix", map[string]string{"app-root": "/foo"}),
		nginxIngress("perm", "f.test", "/", "Prefix", map[string]string{"permanent-redirect": "https://www.example.com/x?a=b"}),
		nginxIngress("permcode", "g.test", "/", "Prefix", map[string]string{"permanent-redirect": "http://example.com", "permanent-redirect-code": "308"}),
		nginxIngress("temp", "h.test", "/", "Prefix", map[string]string{"temporal-redirect": "http://example.com", "permanent-redirect": "http://other.com"}),
		nginxIngress("www", "www.i.test", "/", "Prefix", map[string]string{"from-to-www-redirect": "true"}),
		nginxIngress("vhost", "j.test", "/", "Prefix", map[string]string{"upstream-vhost": "upstream.local", "x-forwarded-prefix": "/j"}),
		nginxIngress("force", "k.test", "/", "Prefix", map[string]string{"force-ssl-redirect": "true"}),
		nginxIngress("snippet", "l.test", "/", "Prefix", map[string]string{"configuration-snippet": "deny all;"}),
		nginxIngress("future", "m.test", "/", "Prefix", map[string]string{"whatever-snippet": "x"}),
	}
	yaml := strings.NewReplacer("PORT", port, "ADDR", host).Replace(strings.Join(docs, ""))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "nginx.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	snap, _, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	res := translate.Translate(snap, translate.Options{ControllerName: "portico.dev/ingress-controller", IngressClass: "portico",
		Nginx: &translate.NginxOptions{}})
	refused := 0
	for _, p := range res.Problems {
		if p.Reason == "AnnotationRefused" {
			refused++
			if !strings.Contains(p.Message, "snippet") || !strings.Contains(p.Message, "never executes raw nginx configuration") {
				t.Errorf("refusal message: %s", p.Message)
			}
		} else if p.Severity == translate.SeverityError {
			t.Errorf("unexpected problem: %+v", p)
		}
	}
	if refused != 2 {
		t.Errorf("%d Ingresses refused, want 2 (the snippets)", refused)
	}
	rt := router.New(router.Options{})
	rt.Swap(router.Compile(res.Config))
	front := httptest.NewServer(rt)
	defer front.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range []struct {
		host, path string
		code       int
		body, loc  string
	}{
		{"a.test", "/.well-known/acme/challenge", 200, "uri=/.well-known/acme/challenge ", ""},
		{"a.test", "/anything", 200, "uri=/new/backend ", ""},
		{"b.test", "/foo", 200, "uri=/foo ", ""},
		{"b.test", "/foo/bar", 200, "uri=/new/backend ", ""},
		{"b.test", "/FOO/bar", 200, "uri=/new/backend ", ""}, // case-insensitive
		{"b.test", "/foobar", 200, "uri=/new/backend ", ""},  // anchored at the start only
		{"c.test", "/foo/bar/bar", 200, "uri=/new/backend ", ""},
		{"d.test", "/foo/bar/bar", 200, "uri=/new/backend/bar ", ""},
		{"d.test", "/foo/bar/x?q=1", 200, "uri=/new/backend/x?q=1 ", ""},
		{"d.test", "/foo/bar/..%2F..%2Fadmin", 200, "uri=/new/backend/..%2F..%2Fadmin ", ""}, // no traversal
		{"e.test", "/", 302, "", "http://e.test/foo"},
		{"e.test", "/bar", 200, "uri=/bar ", ""},
		{"f.test", "/any?z=1", 301, "", "https://www.example.com/x?a=b"},
		{"g.test", "/", 308, "", "http://example.com"},
		{"h.test", "/", 302, "", "http://example.com"},
		{"i.test", "/p?q=1", 308, "", "http://www.i.test/p?q=1"},
		{"www.i.test", "/p", 200, "uri=/p ", ""},
		{"j.test", "/x", 200, "uri=/x host=upstream.local prefix=/j", ""},
		{"k.test", "/x", 308, "", "https://k.test/x"},
		{"l.test", "/", 404, "", ""},
		{"m.test", "/", 404, "", ""},
	} {
		req, _ := http.NewRequest("GET", front.URL+c.path, nil)
		req.Host = c.host
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || !strings.HasPrefix(string(b), c.body) || resp.Header.Get("Location") != c.loc {
			t.Errorf("%s%s: %d %q Location %q, want %d %q Location %q", c.host, c.path, resp.StatusCode, b,
				resp.Header.Get("Location"), c.code, c.body, c.loc)
		}
	}
}
