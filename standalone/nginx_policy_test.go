package standalone

import (
	"crypto/sha1" //nolint:gosec // the {SHA} htpasswd format, as ingress-nginx users write it
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-dev/portico/controllers/translate"
)

// ingress-nginx's policy annotations end to end: a real standalone Portico
// serving a directory with an IngressClass of ingress-nginx's controller,
// real backends on loopback, and behaviour tables from ingress-nginx's
// documentation and e2e expectations.

// nginxClass is the IngressClass of ingress-nginx.
const nginxClass = `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: k8s.io/ingress-nginx}
`

// nginxService is a Service named name with one EndpointSlice per
// backend address (host:port) given.
func nginxService(name string, addrs ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Service\nmetadata: {name: %s}\nspec: {ports: [{name: http, port: 80}]}\n", name)
	for i, a := range addrs {
		host, port, _ := net.SplitHostPort(a)
		fmt.Fprintf(&b, `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: %s-%d, labels: {kubernetes.io/service-name: %s}}
addressType: IPv4
ports: [{name: http, port: %s}]
endpoints: [{addresses: [%s], conditions: {ready: true}}]
`, name, i, name, port, host)
	}
	return b.String()
}

// nginxIngress is an Ingress of class nginx for host and path to service,
// with annotations (without their prefix).
func nginxIngressYAML(name, host, path, service string, ann map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: %s\n  annotations:\n", name)
	if len(ann) == 0 {
		b.WriteString("    {}\n")
	}
	for k, v := range ann {
		fmt.Fprintf(&b, "    nginx.ingress.kubernetes.io/%s: %q\n", k, v)
	}
	fmt.Fprintf(&b, `spec:
  ingressClassName: nginx
  rules: [{host: %s, http: {paths: [{path: %s, pathType: Prefix, backend: {service: {name: %s, port: {number: 80}}}}]}}]
`, host, path, service)
	return b.String()
}

// slowInFlight counts the requests echo backends hold at /slow.
var slowInFlight atomic.Int32

// echo is a backend answering "<name> <path>" and, in headers, what it
// received.
func echo(t *testing.T, name string) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			slowInFlight.Add(1)
			defer slowInFlight.Add(-1)
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
		}
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/status500" {
			http.Error(w, "failed", 500)
			return
		}
		w.Header().Set("X-Got-Authorization", r.Header.Get("Authorization"))
		w.Header().Set("X-Got-User", r.Header.Get("X-Auth-User"))
		fmt.Fprintf(w, "%s %s", name, r.URL.Path)
	}))
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

// nginxRun serves the manifests with ingress-nginx compatibility and the
// ConfigMap data cm, and returns the HTTP address once host answers.
func nginxRun(t *testing.T, manifests string, cm map[string]string, readyHost string) string {
	t.Helper()
	dir := t.TempDir()
	// The ConfigMap is one of the manifests, as in a real directory.
	cmYAML := "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ingress-nginx-controller, namespace: ingress-nginx}\ndata:\n"
	keys := slices.Sorted(maps.Keys(cm))
	for _, k := range keys {
		cmYAML += fmt.Sprintf("  %s: %q\n", k, cm[k])
	}
	if err := os.WriteFile(filepath.Join(dir, "all.yaml"), []byte(nginxClass+manifests+"\n"+cmYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	bound := startRun(t, Options{Dir: dir, HTTPAddr: "127.0.0.1:0", Interval: 50 * time.Millisecond,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Translate: translate.Options{ControllerName: "portico.dev/ingress-controller", IngressClass: "portico",
			Nginx: &translate.NginxOptions{}}}, 1)
	addr := bound["http"]
	for range 200 {
		if code, _, _ := send(t, addr, "GET", readyHost, "/", nil, ""); code == 200 {
			return addr
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("host %s never served", readyHost)
	return ""
}

// send makes one request and returns its status, headers and body.
func send(t *testing.T, addr, method, host, path string, h map[string]string, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range h {
		if k == "Host" {
			continue
		}
		req.Header.Set(k, v)
	}
	c := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header, string(b)
}

// nginxCase is one row of a behaviour table.
type nginxCase struct {
	name, method, host, path string
	headers                  map[string]string
	body                     string
	code                     int
	// bodyPrefix, when set, must start the answer's body; want are
	// answer headers that must have these values ("" : absent).
	bodyPrefix string
	want       map[string]string
}

func runCases(t *testing.T, addr string, cases []nginxCase) {
	t.Helper()
	for _, c := range cases {
		code, h, body := send(t, addr, cmpOr(c.method, "GET"), c.host, cmpOr(c.path, "/"), c.headers, c.body)
		if code != c.code || c.bodyPrefix != "" && !strings.HasPrefix(body, c.bodyPrefix) {
			t.Errorf("%s: %d %q, want %d %q", c.name, code, body, c.code, c.bodyPrefix)
			continue
		}
		for k, v := range c.want {
			if got := h.Get(k); got != v {
				t.Errorf("%s: header %s = %q, want %q", c.name, k, got, v)
			}
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func basicAuth(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func shaHash(pass string) string {
	sum := sha1.Sum([]byte(pass)) //nolint:gosec // the {SHA} htpasswd format
	return "{SHA}" + base64.StdEncoding.EncodeToString(sum[:])
}

// TestNginxAccessAnnotations: proxy-body-size, the source ranges and
// basic authentication.
func TestNginxAccessAnnotations(t *testing.T) {
	app := echo(t, "app")
	m := nginxService("app", app) +
		nginxIngressYAML("plain", "plain.test", "/", "app", nil) +
		nginxIngressYAML("body", "body.test", "/", "app", map[string]string{"proxy-body-size": "8"}) +
		nginxIngressYAML("body-k", "bodyk.test", "/", "app", map[string]string{"proxy-body-size": "1k"}) +
		nginxIngressYAML("unlimited", "unlimited.test", "/", "app", map[string]string{"proxy-body-size": "0"}) +
		nginxIngressYAML("allow-out", "allow-out.test", "/", "app", map[string]string{"whitelist-source-range": "10.0.0.0/8"}) +
		nginxIngressYAML("allow-in", "allow-in.test", "/", "app", map[string]string{"allowlist-source-range": "10.0.0.0/8, 127.0.0.1/32"}) +
		nginxIngressYAML("deny", "deny.test", "/", "app", map[string]string{"denylist-source-range": "127.0.0.0/8", "allowlist-source-range": "127.0.0.1"}) +
		nginxIngressYAML("bad-cidr", "bad-cidr.test", "/", "app", map[string]string{"whitelist-source-range": "10.0.0.0/8, nonsense"}) +
		nginxIngressYAML("basic", "basic.test", "/", "app", map[string]string{"auth-type": "basic", "auth-secret": "basic-auth", "auth-realm": "test auth"}) +
		nginxIngressYAML("basic-map", "basic-map.test", "/", "app", map[string]string{"auth-type": "basic", "auth-secret": "basic-map", "auth-secret-type": "auth-map"}) +
		nginxIngressYAML("basic-missing", "basic-missing.test", "/", "app", map[string]string{"auth-type": "basic", "auth-secret": "nothere"}) +
		nginxIngressYAML("basic-ns", "basic-ns.test", "/", "app", map[string]string{"auth-type": "basic", "auth-secret": "other/basic-auth"}) +
		nginxIngressYAML("allow-auth", "allow-auth.test", "/", "app", map[string]string{"whitelist-source-range": "10.0.0.0/8",
			"auth-type": "basic", "auth-secret": "basic-auth"}) +
		nginxIngressYAML("basic-cors", "basic-cors.test", "/", "app", map[string]string{"auth-type": "basic", "auth-secret": "basic-auth",
			"enable-cors": "true"}) +
		nginxIngressYAML("digest", "digest.test", "/", "app", map[string]string{"auth-type": "digest", "auth-secret": "basic-auth"}) +
		fmt.Sprintf("---\napiVersion: v1\nkind: Secret\nmetadata: {name: basic-auth}\nstringData: {auth: %q}\n", "foo:"+shaHash("bar")+"\n") +
		fmt.Sprintf("---\napiVersion: v1\nkind: Secret\nmetadata: {name: basic-map}\nstringData: {alice: %q, bob: %q}\n", shaHash("a-pass"), shaHash("b-pass")) +
		fmt.Sprintf("---\napiVersion: v1\nkind: Secret\nmetadata: {name: basic-auth, namespace: other}\nstringData: {auth: %q}\n", "foo:"+shaHash("bar"))
	addr := nginxRun(t, m, map[string]string{"proxy-body-size": "16", "use-forwarded-headers": "true"}, "plain.test")
	xff := func(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }
	runCases(t, addr, []nginxCase{
		{name: "ConfigMap body size: at the limit", method: "POST", host: "plain.test", body: strings.Repeat("x", 16), code: 200},
		{name: "ConfigMap body size: over", method: "POST", host: "plain.test", body: strings.Repeat("x", 17), code: 413},
		{name: "annotation body size: at the limit", method: "POST", host: "body.test", body: "12345678", code: 200},
		{name: "annotation body size: over", method: "POST", host: "body.test", body: "123456789", code: 413},
		{name: "1k", method: "POST", host: "bodyk.test", body: strings.Repeat("x", 1024), code: 200},
		{name: "1k over", method: "POST", host: "bodyk.test", body: strings.Repeat("x", 1025), code: 413},
		{name: "0 is unlimited", method: "POST", host: "unlimited.test", body: strings.Repeat("x", 3<<20), code: 200},
		{name: "allowlist: outside", host: "allow-out.test", code: 403},
		{name: "allowlist: forwarded client inside", host: "allow-out.test", headers: xff("10.1.2.3"), code: 200},
		{name: "allowlist: forwarded client outside", host: "allow-out.test", headers: xff("192.0.2.1"), code: 403},
		{name: "allowlist: inside", host: "allow-in.test", code: 200, bodyPrefix: "app /"},
		{name: "denylist before allowlist", host: "deny.test", code: 403},
		{name: "invalid CIDR fails closed", host: "bad-cidr.test", headers: xff("10.1.2.3"), code: 503},
		{name: "basic: no credentials", host: "basic.test", code: 401, want: map[string]string{"WWW-Authenticate": `Basic realm="test auth", charset="UTF-8"`}},
		{name: "basic: wrong password", host: "basic.test", headers: map[string]string{"Authorization": basicAuth("foo", "baz")}, code: 401},
		{name: "basic: right", host: "basic.test", headers: map[string]string{"Authorization": basicAuth("foo", "bar")}, code: 200,
			want: map[string]string{"X-Got-Authorization": ""}},
		{name: "auth-map: alice", host: "basic-map.test", headers: map[string]string{"Authorization": basicAuth("alice", "a-pass")}, code: 200},
		{name: "auth-map: bob with alice's password", host: "basic-map.test", headers: map[string]string{"Authorization": basicAuth("bob", "a-pass")}, code: 401},
		{name: "missing Secret fails closed", host: "basic-missing.test", headers: map[string]string{"Authorization": basicAuth("foo", "bar")}, code: 503},
		{name: "cross-namespace Secret refused", host: "basic-ns.test", headers: map[string]string{"Authorization": basicAuth("foo", "bar")}, code: 503},
		{name: "a refusal carries the CORS headers", host: "basic-cors.test", headers: map[string]string{"Origin": "https://web.test"}, code: 401,
			want: map[string]string{"Access-Control-Allow-Origin": "https://web.test"}},
		{name: "source ranges before authentication", host: "allow-auth.test", code: 403},
		{name: "inside the range, authentication", host: "allow-auth.test", headers: xff("10.0.0.1"), code: 401},
		{name: "digest unsupported fails closed", host: "digest.test", code: 503},
	})
}
