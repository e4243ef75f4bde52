package standalone

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/router"
)

// TestNginxCanary: canary by header, by header value, by cookie and by
// weight, in ingress-nginx's precedence; a canary inherits the main
// Ingress's annotations; a canary without a main Ingress is not served.
func TestNginxCanary(t *testing.T) {
	main, canary := echo(t, "main"), echo(t, "canary")
	m := nginxService("main", main) + nginxService("canary", canary) +
		nginxIngressYAML("main", "app.test", "/", "main", nil) +
		nginxIngressYAML("app-canary", "app.test", "/", "canary", map[string]string{"canary": "true",
			"canary-by-header": "X-Canary", "canary-by-cookie": "use_canary", "proxy-body-size": "1"}) +
		nginxIngressYAML("value-main", "value.test", "/", "main", nil) +
		nginxIngressYAML("value-canary", "value.test", "/", "canary", map[string]string{"canary": "true",
			"canary-by-header": "X-Version", "canary-by-header-value": "v2"}) +
		nginxIngressYAML("pattern-main", "pattern.test", "/", "main", nil) +
		nginxIngressYAML("pattern-canary", "pattern.test", "/", "canary", map[string]string{"canary": "true",
			"canary-by-header": "X-Version", "canary-by-header-pattern": "^v[23]$"}) +
		nginxIngressYAML("all-main", "all.test", "/", "main", nil) +
		nginxIngressYAML("all-canary", "all.test", "/", "canary", map[string]string{"canary": "true", "canary-weight": "100"}) +
		nginxIngressYAML("total-main", "total.test", "/", "main", nil) +
		nginxIngressYAML("total-canary", "total.test", "/", "canary", map[string]string{"canary": "true", "canary-weight": "5",
			"canary-weight-total": "5"}) +
		nginxIngressYAML("half-main", "half.test", "/", "main", nil) +
		nginxIngressYAML("half-canary", "half.test", "/", "canary", map[string]string{"canary": "true", "canary-weight": "50"}) +
		nginxIngressYAML("auth-main", "auth.test", "/", "main", map[string]string{"whitelist-source-range": "10.0.0.0/8"}) +
		nginxIngressYAML("auth-canary", "auth.test", "/", "canary", map[string]string{"canary": "true", "canary-by-header": "X-Canary"}) +
		nginxIngressYAML("hw-main", "hw.test", "/", "main", nil) +
		nginxIngressYAML("hw-canary", "hw.test", "/", "canary", map[string]string{"canary": "true", "canary-weight": "100",
			"canary-by-header": "X-Canary"}) +
		nginxIngressYAML("orphan", "orphan.test", "/", "canary", map[string]string{"canary": "true", "canary-weight": "100"})
	addr := nginxRun(t, m, nil, "app.test")
	h := func(kv ...string) map[string]string {
		out := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	runCases(t, addr, []nginxCase{
		{name: "no header, no cookie: main", host: "app.test", code: 200, bodyPrefix: "main"},
		{name: "header always", host: "app.test", headers: h("X-Canary", "always"), code: 200, bodyPrefix: "canary"},
		{name: "header never beats the cookie", host: "app.test", headers: h("X-Canary", "never", "Cookie", "use_canary=always"), code: 200, bodyPrefix: "main"},
		{name: "header always beats the cookie", host: "app.test", headers: h("X-Canary", "always", "Cookie", "use_canary=never"), code: 200, bodyPrefix: "canary"},
		{name: "other header value: the cookie decides", host: "app.test", headers: h("X-Canary", "maybe", "Cookie", "a=b; use_canary=always"), code: 200, bodyPrefix: "canary"},
		{name: "cookie always", host: "app.test", headers: h("Cookie", "use_canary=always"), code: 200, bodyPrefix: "canary"},
		{name: "cookie never", host: "app.test", headers: h("Cookie", "use_canary=never"), code: 200, bodyPrefix: "main"},
		{name: "other cookie value: weight 0, main", host: "app.test", headers: h("Cookie", "use_canary=yes"), code: 200, bodyPrefix: "main"},
		{name: "a longer cookie name does not count", host: "app.test", headers: h("Cookie", "xuse_canary=always"), code: 200, bodyPrefix: "main"},
		{name: "the canary's own proxy-body-size is ignored", method: "POST", host: "app.test", headers: h("X-Canary", "always"), body: "12345", code: 200, bodyPrefix: "canary"},
		{name: "header value matches", host: "value.test", headers: h("X-Version", "v2"), code: 200, bodyPrefix: "canary"},
		{name: "with a header value, always is nothing special", host: "value.test", headers: h("X-Version", "always"), code: 200, bodyPrefix: "main"},
		{name: "header pattern matches", host: "pattern.test", headers: h("X-Version", "v3"), code: 200, bodyPrefix: "canary"},
		{name: "header pattern does not match", host: "pattern.test", headers: h("X-Version", "v4"), code: 200, bodyPrefix: "main"},
		{name: "weight 100 of 100", host: "all.test", code: 200, bodyPrefix: "canary"},
		{name: "weight 5 of total 5", host: "total.test", code: 200, bodyPrefix: "canary"},
		{name: "the canary inherits the main allowlist", host: "auth.test", headers: h("X-Canary", "always"), code: 403},
		{name: "weight 100: canary", host: "hw.test", code: 200, bodyPrefix: "canary"},
		{name: "header never beats the weight", host: "hw.test", headers: h("X-Canary", "never"), code: 200, bodyPrefix: "main"},
		{name: "a canary without a main Ingress is not served", host: "orphan.test", code: 404},
	})
	seen := map[string]int{}
	for range 200 {
		_, _, body := send(t, addr, "GET", "half.test", "/", nil, "")
		seen[strings.Fields(body + " ")[0]]++
		if seen["main"] > 0 && seen["canary"] > 0 {
			break
		}
	}
	if seen["main"] == 0 || seen["canary"] == 0 {
		t.Errorf("weight 50: %v", seen)
	}
}

// TestNginxCanaryProblems: the translation reports the orphan canary and
// the annotations a canary ignores, and no conflict.
func TestNginxCanaryProblems(t *testing.T) {
	m := nginxService("main", "127.0.0.1:1") + nginxService("canary", "127.0.0.1:2") +
		nginxIngressYAML("main", "app.test", "/", "main", nil) +
		nginxIngressYAML("app-canary", "app.test", "/", "canary", map[string]string{"canary": "true", "canary-weight": "10",
			"enable-cors": "true", "load-balance": "ewma"}) +
		nginxIngressYAML("orphan", "orphan.test", "/", "canary", map[string]string{"canary": "true"})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "all.yaml"), []byte(nginxClass+m), 0o600); err != nil {
		t.Fatal(err)
	}
	snap, _, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	res := translate.Translate(snap, translate.Options{ControllerName: "portico.dev/ingress-controller", IngressClass: "portico",
		Nginx: &translate.NginxOptions{}})
	var got []string
	for _, p := range res.Problems {
		got = append(got, p.Object.Name+" "+string(p.Severity)+" "+p.Reason)
	}
	want := []string{"app-canary Warning IgnoredOnCanary", "orphan Error CanaryWithoutMain"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("problems %q, want %q", got, want)
	}
	if n := len(res.Config.Routes); n != 1 {
		t.Fatalf("%d routes, want the main route alone", n)
	}
	r := res.Config.Routes[0]
	if len(r.Backends) != 2 || r.Backends[0].Weight != 90 || r.Backends[1].Weight != 10 {
		t.Errorf("weighted backends %+v", r.Backends)
	}
	if b := r.Backends[1].Backend; b.Balancing == nil || b.Balancing.Policy != router.LeastRequest {
		t.Errorf("the canary's load-balance is not applied to its backend: %+v", b.Balancing)
	}
}

// TestNginxUpstreamHash: upstream-hash-by keeps each key on one endpoint
// and spreads different keys.
func TestNginxUpstreamHash(t *testing.T) {
	a, b := echo(t, "a"), echo(t, "b")
	m := nginxService("pool", a, b) +
		nginxIngressYAML("uri", "uri.test", "/", "pool", map[string]string{"upstream-hash-by": "$request_uri"}) +
		nginxIngressYAML("hdr", "hdr.test", "/", "pool", map[string]string{"upstream-hash-by": "${http_x_user}-suffix"}) +
		nginxIngressYAML("rr", "rr.test", "/", "pool", nil)
	addr := nginxRun(t, m, nil, "rr.test")
	endpoint := func(host, path string, h map[string]string) string {
		_, _, body := send(t, addr, "GET", host, path, h, "")
		return strings.Fields(body + " ")[0]
	}
	spread := map[string]bool{}
	for i := range 40 {
		path := "/k" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		first := endpoint("uri.test", path, nil)
		for range 3 {
			if got := endpoint("uri.test", path, nil); got != first {
				t.Fatalf("$request_uri %s went to %s then %s", path, first, got)
			}
		}
		spread[first] = true
	}
	if !spread["a"] || !spread["b"] {
		t.Errorf("40 URIs all went to %v", spread)
	}
	for _, user := range []string{"alice", "bob", "carol"} {
		first := endpoint("hdr.test", "/", map[string]string{"X-User": user})
		for range 3 {
			if got := endpoint("hdr.test", "/x", map[string]string{"X-User": user}); got != first {
				t.Fatalf("$http_x_user %s went to %s then %s", user, first, got)
			}
		}
	}
	rr := map[string]bool{}
	for range 4 {
		rr[endpoint("rr.test", "/same", nil)] = true
	}
	if len(rr) != 2 {
		t.Errorf("round robin: %v", rr)
	}
}

// TestNginxAffinity: affinity cookie with its cookie attributes keeps a
// client on one endpoint.
func TestNginxAffinity(t *testing.T) {
	a, b := echo(t, "a"), echo(t, "b")
	m := nginxService("pool", a, b) +
		nginxIngressYAML("sticky", "sticky.test", "/app", "pool", map[string]string{"affinity": "cookie",
			"session-cookie-max-age": "172800", "session-cookie-samesite": "Lax", "affinity-mode": "persistent"}) +
		nginxIngressYAML("named", "named.test", "/", "pool", map[string]string{"affinity": "cookie", "session-cookie-name": "route",
			"session-cookie-path": "/shop"})
	addr := nginxRun(t, m, nil, "named.test")
	_, h, body := send(t, addr, "GET", "sticky.test", "/app", nil, "")
	set := h.Get("Set-Cookie")
	if !strings.HasPrefix(set, "INGRESSCOOKIE=") || !strings.Contains(set, "; Path=/app") || !strings.Contains(set, "; Max-Age=172800") ||
		!strings.Contains(set, "; HttpOnly") || !strings.Contains(set, "; SameSite=Lax") {
		t.Fatalf("Set-Cookie %q", set)
	}
	first := strings.Fields(body + " ")[0]
	cookie := strings.SplitN(set, ";", 2)[0]
	for range 6 {
		if _, _, body := send(t, addr, "GET", "sticky.test", "/app", map[string]string{"Cookie": cookie}, ""); !strings.HasPrefix(body, first) {
			t.Fatalf("with %s: %q, want endpoint %s", cookie, body, first)
		}
	}
	if _, h, _ := send(t, addr, "GET", "named.test", "/", nil, ""); !strings.HasPrefix(h.Get("Set-Cookie"), "route=") ||
		!strings.Contains(h.Get("Set-Cookie"), "; Path=/shop") {
		t.Errorf("session-cookie-name/-path: %q", h.Get("Set-Cookie"))
	}
}
