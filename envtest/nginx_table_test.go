package harness

import (
	"context"
	"crypto/sha1" //nolint:gosec // the {SHA} htpasswd format
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/portico-dev/portico/controllers/translate"
)

// nginxCase is one row of the ingress-nginx behaviour table: an Ingress
// (its host and annotations) and a request with what it must get.
type nginxCase struct {
	family, host, path string
	annotations        map[string]string
	pathType           networkingv1.PathType
	method             string
	header             []string // name, value pairs
	body               string
	code               int
	prefix             string // of the body
	respHeader         []string
}

// TestIngressNginxAnnotationTable runs a representative request per
// ingress-nginx annotation family on a real API server in controller
// mode (Ingresses, Services, EndpointSlices and Secrets created through
// the API, real backends in network namespaces): the same expectations as
// the standalone behaviour tables, from ingress-nginx's documentation and
// e2e suite.
func TestIngressNginxAnnotationTable(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ns := namespace(t, "nginx-table")
	httpAddr, _ := startNginxController(t, ctx, client.ObjectKey{Namespace: ns, Name: "ingress-nginx-controller"}.String())
	t.Cleanup(cancel)
	cls := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nginx-table-e2e"},
		Spec: networkingv1.IngressClassSpec{Controller: translate.NginxControllerName}}
	create(t, cls)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), cls) })

	appHost, appLn := hostListener(t, 50)
	app := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/auth" {
			if r.Header.Get("X-Token") != "ok" {
				w.WriteHeader(http.StatusUnauthorized)
			}
			return
		}
		var code int
		if _, err := fmt.Sscanf(r.URL.Path, "/status/%d", &code); err == nil {
			w.WriteHeader(code)
		}
		fmt.Fprintf(w, "app %s", r.URL.RequestURI())
	})}
	go app.Serve(appLn)
	t.Cleanup(func() { app.Close() })
	errHost, errLn := hostListener(t, 51)
	pages := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusOK
		_, _ = fmt.Sscan(r.Header.Get("X-Code"), &code)
		w.WriteHeader(code)
		fmt.Fprintf(w, "page %s code=%s ns=%s ing=%s svc=%s", r.URL.RequestURI(), r.Header.Get("X-Code"),
			r.Header.Get("X-Namespace"), r.Header.Get("X-Ingress-Name"), r.Header.Get("X-Service-Name"))
	})}
	go pages.Serve(errLn)
	t.Cleanup(func() { pages.Close() })
	appSvc, appES := service(ns, "app", appHost)
	errSvc, errES := service(ns, "pages", errHost)
	sum := sha1.Sum([]byte("s3cret")) //nolint:gosec // the {SHA} htpasswd format
	users := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "users"},
		Data: map[string][]byte{"auth": []byte("alice:{SHA}" + base64.StdEncoding.EncodeToString(sum[:]) + "\n")}}
	create(t, appSvc, appES, errSvc, errES, users)

	a := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[translate.NginxAnnotationPrefix+kv[i]] = kv[i+1]
		}
		return m
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	cases := []nginxCase{
		{family: "rewrite/regex", host: "rewrite.table", path: "/r/(.+)", pathType: networkingv1.PathTypeImplementationSpecific,
			annotations: a("use-regex", "true", "rewrite-target", "/new/$1"), method: "GET", body: "/R/abc?q=1", code: 200, prefix: "app /new/abc?q=1"},
		{family: "redirect", host: "redirect.table", annotations: a("permanent-redirect", "https://example.com/moved"),
			method: "GET", body: "/x", code: 301, respHeader: []string{"Location", "https://example.com/moved"}},
		{family: "force-ssl-redirect", host: "force.table", annotations: a("force-ssl-redirect", "true"),
			method: "GET", body: "/x", code: 308, respHeader: []string{"Location", "https://force.table/x"}},
		{family: "auth basic (no credentials)", host: "basic.table", annotations: a("auth-type", "basic", "auth-secret", "users", "auth-realm", "table"),
			method: "GET", body: "/x", code: 401, respHeader: []string{"Www-Authenticate", `Basic realm="table"`}},
		{family: "auth basic", host: "basic.table", method: "GET", body: "/x", header: []string{"Authorization", basic}, code: 200, prefix: "app /x"},
		{family: "auth-url (refused)", host: "authurl.table", annotations: a("auth-url", "http://"+appHost.IP+":8080/auth"),
			method: "GET", body: "/x", code: 401},
		{family: "auth-url", host: "authurl.table", method: "GET", body: "/x", header: []string{"X-Token", "ok"}, code: 200, prefix: "app /x"},
		{family: "canary by header", host: "canary.table", method: "GET", body: "/c", header: []string{"X-Canary", "always"}, code: 200, prefix: "page /c"},
		{family: "canary main", host: "canary.table", method: "GET", body: "/c", code: 200, prefix: "app /c"},
		{family: "cors preflight", host: "cors.table", annotations: a("enable-cors", "true"), method: "OPTIONS", body: "/x",
			header: []string{"Origin", "https://site.example", "Access-Control-Request-Method", "PUT"}, code: 204,
			respHeader: []string{"Access-Control-Allow-Origin", "https://site.example"}}, // credentials on: the Origin echoed
		{family: "affinity", host: "affinity.table", annotations: a("affinity", "cookie", "session-cookie-name", "route"),
			method: "GET", body: "/x", code: 200, prefix: "app /x", respHeader: []string{"Set-Cookie", "route="}},
		{family: "custom-http-errors", host: "errors.table", annotations: a("custom-http-errors", "404,503", "default-backend", "pages"),
			method: "GET", body: "/status/404", code: 404, prefix: "page / code=404 ns=" + ns + " ing=errors-table svc=app"},
		{family: "custom-http-errors (not listed)", host: "errors.table", method: "GET", body: "/status/500", code: 500, prefix: "app /status/500"},
		{family: "body size", host: "body.table", annotations: a("proxy-body-size", "10"), method: "POST", body: "/x", code: 413},
		{family: "limits", host: "limit.table", annotations: a("limit-rpm", "1", "limit-burst-multiplier", "1"), method: "GET", body: "/x", code: 503},
	}
	var objs []client.Object
	for _, c := range cases {
		if c.annotations == nil {
			continue
		}
		name := strings.ReplaceAll(c.host, ".", "-")
		p := c.path
		if p == "" {
			p = "/"
		}
		pt := c.pathType
		if pt == "" {
			pt = networkingv1.PathTypePrefix
		}
		ing := ingress(ns, name, ptr.To(cls.Name), c.host, path{p, pt, "app"})
		ing.Annotations = c.annotations
		objs = append(objs, ing)
	}
	canary := ingress(ns, "canary-table-canary", ptr.To(cls.Name), "canary.table", path{"/", networkingv1.PathTypePrefix, "pages"})
	canary.Annotations = a("canary", "true", "canary-by-header", "X-Canary")
	objs = append(objs, ingress(ns, "canary-table", ptr.To(cls.Name), "canary.table", path{"/", networkingv1.PathTypePrefix, "app"}), canary)
	create(t, objs...)

	hc := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(c nginxCase) error {
		var body io.Reader
		if c.method == "POST" {
			body = strings.NewReader(strings.Repeat("b", 100))
		}
		req, _ := http.NewRequest(c.method, "http://"+httpAddr+c.body, body)
		req.Host = c.host
		for i := 0; i+1 < len(c.header); i += 2 {
			req.Header.Set(c.header[i], c.header[i+1])
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode != c.code || !strings.HasPrefix(string(b), c.prefix) {
			return fmt.Errorf("%s: %s %s%s: %d %q, want %d %q…", c.family, c.method, c.host, c.body, resp.StatusCode, b, c.code, c.prefix)
		}
		for i := 0; i+1 < len(c.respHeader); i += 2 {
			if got := resp.Header.Get(c.respHeader[i]); !strings.HasPrefix(got, c.respHeader[i+1]) {
				return fmt.Errorf("%s: %s = %q, want %q…", c.family, c.respHeader[i], got, c.respHeader[i+1])
			}
		}
		return nil
	}
	for _, c := range cases {
		t.Run(c.family, func(t *testing.T) {
			eventually(t, 30*time.Second, func() error { return do(c) })
		})
	}
}
