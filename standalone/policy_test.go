package standalone

import (
	"encoding/base64"
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

// TestPolicyEndToEnd reads an Ingress with a SecurityPolicy and a
// TrafficPolicy from YAML, translates and compiles it, and serves real
// requests: the policies guard the route.
func TestPolicyEndToEnd(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "user=%s", r.Header.Get("X-User"))
	}))
	defer be.Close()
	host, port, _ := net.SplitHostPort(be.Listener.Addr().String())
	dir := t.TempDir()
	yaml := fmt.Sprintf(`apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: portico}
spec: {controller: portico.dev/ingress-controller}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: app, annotations: {portico.dev/security-policy: auth, portico.dev/traffic-policy: limit}}
spec:
  ingressClassName: portico
  rules: [{host: app.test, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: %[2]s}}}}]}}]
---
apiVersion: v1
kind: Service
metadata: {name: app}
spec: {ports: [{port: %[2]s}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: app-1, labels: {kubernetes.io/service-name: app}}
addressType: IPv4
ports: [{port: %[2]s}]
endpoints: [{addresses: [%[1]s], conditions: {ready: true}}]
---
apiVersion: v1
kind: Secret
metadata: {name: users}
stringData: {.htpasswd: "bob:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ="}
---
apiVersion: portico.dev/v1alpha1
kind: SecurityPolicy
metadata: {name: auth}
spec:
  basicAuth: {users: {name: users}, forwardUsernameHeader: X-User}
---
apiVersion: portico.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: limit}
spec:
  rateLimit: {local: {requests: 2, unit: Hour}}
`, host, port)
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	snap, _, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	res := translate.Translate(snap, translate.Options{ControllerName: "portico.dev/ingress-controller", IngressClass: "portico"})
	if res.HasErrors() {
		t.Fatalf("problems: %+v", res.Problems)
	}
	rt := router.New(router.Options{})
	rt.Swap(router.Compile(res.Config))
	// `portico routes` shows the route's effective policy.
	var text strings.Builder
	if err := Describe(rt.Table(), &res).WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if want := "basicAuth,rateLimit(2/1h0m0s per Route) (SecurityPolicy/default/auth, TrafficPolicy/default/limit)"; !strings.Contains(text.String(), want) {
		t.Errorf("routes output lacks the effective policy %q:\n%s", want, text.String())
	}
	front := httptest.NewServer(rt)
	defer front.Close()
	do := func(auth string) (int, string) {
		req, _ := http.NewRequest("GET", front.URL+"/x", nil)
		req.Host = "app.test"
		if auth != "" {
			req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(auth)))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for i, c := range []struct {
		auth string
		code int
		body string
	}{{"", 401, ""}, {"bob:wrong", 401, ""}, {"bob:secret", 200, "user=bob"}, {"bob:secret", 200, "user=bob"}, {"bob:secret", 429, ""}} {
		code, body := do(c.auth)
		if code != c.code || c.body != "" && body != c.body {
			t.Errorf("request %d (%q): %d %q, want %d %q", i, c.auth, code, body, c.code, c.body)
		}
	}
}
