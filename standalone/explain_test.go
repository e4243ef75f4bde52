package standalone

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/controllers/translate"
)

// exampleDir holds examples/quickstart (Ingresses) and the Gateway and
// HTTPRoutes of examples/gateway (whose Services are the quickstart's).
func exampleDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"quickstart/backends.yaml", "quickstart/classes.yaml", "quickstart/ingresses.yaml", "gateway/gateway.yaml", "gateway/routes.yaml"} {
		b, err := os.ReadFile(filepath.Join("../examples", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, strings.ReplaceAll(f, "/", "-")), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// startExamples runs standalone on exampleDir with the admin address (and
// the dashboard when asked) and returns the admin base URL once the first
// table is live. Gateways get addresses of 127.0.216.0/24, which no other
// test uses.
func startExamples(t *testing.T, dashboard bool) string {
	t.Helper()
	addrs := startRun(t, Options{Dir: exampleDir(t), HTTPAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", Dashboard: dashboard,
		Interval: time.Hour, GatewayPool: netip.MustParsePrefix("127.0.216.0/24"),
		Translate: translate.Options{ControllerName: "portico.dev/ingress-controller", IngressClass: "portico",
			GatewayControllerName: "portico.dev/gateway-controller"}}, 2)
	base := "http://" + addrs["admin"]
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminExplain(t *testing.T) {
	base := startExamples(t, false)
	q := url.Values{"url": {"http://shop.example.com:8080/api/v1"}, "header": {"env: canary"}, "method": {"get"}}
	explain := func() (ExplainView, string) {
		code, body := get(t, base+"/debug/explain?"+q.Encode())
		if code != http.StatusOK {
			t.Fatalf("%d %s", code, body)
		}
		var v ExplainView
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		return v, body
	}
	// Both the shared listener and the Gateway's listen on 8080 and have
	// the host exactly: the shared one is chosen, the other listed.
	v, body := explain()
	if v.Winner == nil || v.Winner.Source != "Ingress/demo/shop#rule0.path1" || !strings.HasPrefix(v.Listener, "shared Ingress listener") ||
		len(v.OtherListeners) != 1 || !strings.Contains(v.OtherListeners[0], "Gateway/demo/demo:8080 (http): served by HTTPRoute/demo/shop#rule1.path0") {
		t.Fatalf("unexpected explanation %s", body)
	}
	q.Set("listener", "Gateway/demo/demo:8080")
	v, body = explain()
	if v.Winner == nil || v.Winner.Source != "HTTPRoute/demo/shop#rule1.path0" || v.Listener != "Gateway/demo/demo:8080 (http)" ||
		len(v.Candidates) != 4 || v.Winner.Backends[0].Name != "demo/green:80" {
		t.Fatalf("unexpected explanation %s", body)
	}
	if code, body := get(t, base+"/debug/explain?url=shop.example.com"); code != http.StatusBadRequest || !strings.Contains(body, `"error"`) {
		t.Fatalf("relative URL: %d %s", code, body)
	}
	if code, _ := get(t, base+"/dashboard"); code != http.StatusNotFound {
		t.Fatalf("dashboard served without --dashboard: %d", code)
	}
}

func TestAdminDashboard(t *testing.T) {
	base := startExamples(t, true)
	code, body := get(t, base+"/dashboard")
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	for _, want := range []string{"HTTPRoute/demo/shop#rule1.path0", "Gateway/demo/demo:8080", "demo/green:80", "shop.example.com",
		"Ingress/demo/shop#rule0.path2", `id="explain-form"`, "No conflicts, no problems."} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	resp, err := http.Post(base+"/dashboard", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /dashboard: %d", resp.StatusCode)
	}
}

func TestDashboardEscapes(t *testing.T) {
	live, err := LiveFromSnapshot(&translate.Snapshot{}, translate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	live.Problems = func() []translate.Problem {
		return []translate.Problem{{Object: translate.ObjectRef{Kind: "Ingress", Namespace: "ns", Name: "x"}, Message: `<script>alert("x")</script>`}}
	}
	rec := httptest.NewRecorder()
	live.ServeDashboard(rec, httptest.NewRequest(http.MethodGet, "/dashboard", nil))
	body := rec.Body.String()
	if strings.Contains(body, `<script>alert`) || !strings.Contains(body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Fatalf("problem message not escaped:\n%s", body)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("CSP %q", csp)
	}
}
