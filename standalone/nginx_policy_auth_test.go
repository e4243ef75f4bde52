package standalone

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// authService is an external auth service in the oauth2-proxy style: it
// admits "Bearer good" (X-Auth-User: alice), forbids "Bearer forbidden",
// fails "Bearer boom" with 502 and answers 401 otherwise. It records the
// headers of the last request.
type authService struct {
	mu   sync.Mutex
	last http.Header
	url  string
}

func newAuthService(t *testing.T) *authService {
	a := &authService{}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.last = r.Header.Clone()
		a.last.Set("X-Test-Method", r.Method)
		a.mu.Unlock()
		switch r.Header.Get("Authorization") {
		case "Bearer good":
			w.Header().Set("X-Auth-User", "alice")
			w.WriteHeader(200)
		case "Bearer forbidden":
			w.WriteHeader(403)
		case "Bearer boom":
			w.WriteHeader(502)
		default:
			w.Header().Set("WWW-Authenticate", `Bearer realm="test"`)
			w.Header().Set("Set-Cookie", "csrf=1")
			w.WriteHeader(401)
		}
	}))
	t.Cleanup(s.Close)
	a.url = s.URL
	return a
}

func (a *authService) header(name string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last.Get(name)
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestNginxExternalAuth: auth-url, auth-signin, auth-response-headers,
// auth-method.
func TestNginxExternalAuth(t *testing.T) {
	app := echo(t, "app")
	auth := newAuthService(t)
	m := nginxService("app", app) +
		nginxIngressYAML("plain", "plain.test", "/", "app", nil) +
		nginxIngressYAML("ext", "ext.test", "/", "app", map[string]string{"auth-url": auth.url + "/auth",
			"auth-response-headers": "X-Auth-User"}) +
		nginxIngressYAML("signin", "signin.test", "/", "app", map[string]string{"auth-url": auth.url + "/auth",
			"auth-signin": "https://login.test/start"}) +
		nginxIngressYAML("signin-rd", "signin-rd.test", "/", "app", map[string]string{"auth-url": auth.url + "/auth",
			"auth-signin": "https://login.test/start?rd=$escaped_request_uri", "auth-method": "POST"}) +
		nginxIngressYAML("signin-param", "signin-param.test", "/", "app", map[string]string{"auth-url": auth.url + "/auth",
			"auth-signin": "https://login.test/start?x=1", "auth-signin-redirect-param": "back"}) +
		nginxIngressYAML("down", "down.test", "/", "app", map[string]string{"auth-url": "http://" + closedPort(t) + "/auth"}) +
		nginxIngressYAML("bad-url", "bad-url.test", "/", "app", map[string]string{"auth-url": "not a url"})
	addr := nginxRun(t, m, nil, "plain.test")
	bearer := func(v string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + v, "X-Auth-User": "mallory"}
	}
	runCases(t, addr, []nginxCase{
		{name: "no credentials: 401 with the service's challenge", host: "ext.test", code: 401,
			want: map[string]string{"WWW-Authenticate": `Bearer realm="test"`}},
		{name: "admitted: response headers copied, the client's own replaced", host: "ext.test", path: "/p?q=1", headers: bearer("good"),
			code: 200, bodyPrefix: "app /p", want: map[string]string{"X-Got-User": "alice"}},
	})
	for k, v := range map[string]string{"X-Original-Url": "http://ext.test/p?q=1", "X-Original-Method": "GET",
		"X-Auth-Request-Redirect": "/p?q=1", "X-Sent-From": "nginx-ingress-controller", "X-Real-Ip": "127.0.0.1",
		"X-Test-Method": "GET", "X-Auth-User": "mallory", "X-Original-Uri": ""} {
		if got := auth.header(k); got != v {
			t.Errorf("auth request header %s = %q, want %q", k, got, v)
		}
	}
	runCases(t, addr, []nginxCase{
		{name: "403 passed to the client", host: "ext.test", headers: bearer("forbidden"), code: 403},
		{name: "other answers are 500", host: "ext.test", headers: bearer("boom"), code: 500},
		{name: "unreachable service is 500", host: "down.test", code: 500},
		{name: "invalid auth-url fails closed", host: "bad-url.test", code: 500},
		{name: "signin: 401 becomes a redirect with rd", host: "signin.test", path: "/p?q=1", code: 302,
			want: map[string]string{"Location": "https://login.test/start?rd=http%3A%2F%2Fsignin.test%2Fp%3Fq%3D1", "Set-Cookie": "csrf=1"}},
		{name: "signin: admitted requests pass", host: "signin.test", headers: bearer("good"), code: 200},
		{name: "signin: 403 is not redirected", host: "signin.test", headers: bearer("forbidden"), code: 403},
		{name: "signin with its own rd and per-request variables", host: "signin-rd.test", path: "/a b", code: 302,
			want: map[string]string{"Location": "https://login.test/start?rd=%2Fa%2520b"}},
	})
	if got := auth.header("X-Test-Method"); got != "POST" {
		t.Errorf("auth-method POST: the service got %s", got)
	}
	if got := auth.header("X-Original-Uri"); got != "/a%20b" {
		t.Errorf("auth-method: X-Original-URI = %q", got)
	}
	runCases(t, addr, []nginxCase{
		{name: "signin with another parameter", host: "signin-param.test", path: "/x", code: 302,
			want: map[string]string{"Location": "https://login.test/start?x=1&back=http%3A%2F%2Fsignin-param.test%2Fx"}},
	})
}

// TestNginxLimits: limit-rps with its burst, limit-whitelist,
// limit-connections and their 503.
func TestNginxLimits(t *testing.T) {
	app := echo(t, "app")
	m := nginxService("app", app) +
		nginxIngressYAML("plain", "plain.test", "/", "app", nil) +
		nginxIngressYAML("rps", "rps.test", "/", "app", map[string]string{"limit-rps": "1", "limit-burst-multiplier": "2"}) +
		nginxIngressYAML("rpm", "rpm.test", "/", "app", map[string]string{"limit-rpm": "1", "limit-burst-multiplier": "1"}) +
		nginxIngressYAML("exempt", "exempt.test", "/", "app", map[string]string{"limit-rps": "1", "limit-burst-multiplier": "1",
			"limit-whitelist": "127.0.0.0/8"}) +
		nginxIngressYAML("conns", "conns.test", "/", "app", map[string]string{"limit-connections": "1"})
	addr := nginxRun(t, m, map[string]string{"limit-conn-status-code": "429"}, "plain.test")
	codes := func(host string, n int) []int {
		var out []int
		for range n {
			c, _, _ := send(t, addr, "GET", host, "/", nil, "")
			out = append(out, c)
		}
		return out
	}
	// A burst of rps × multiplier beyond the first request, then 503.
	if got := codes("rps.test", 4); fmt.Sprint(got) != "[200 200 200 503]" {
		t.Errorf("limit-rps 1, multiplier 2: %v", got)
	}
	if got := codes("rpm.test", 3); fmt.Sprint(got) != "[200 200 503]" {
		t.Errorf("limit-rpm 1, multiplier 1: %v", got)
	}
	if got := codes("exempt.test", 5); fmt.Sprint(got) != "[200 200 200 200 200]" {
		t.Errorf("limit-whitelist: %v", got)
	}
	// One request in progress; the second concurrent one is refused.
	done := make(chan int, 1)
	go func() {
		c, _, _ := send(t, addr, "GET", "conns.test", "/slow", nil, "")
		done <- c
	}()
	for i := 0; slowInFlight.Load() == 0 && i < 200; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	refused := false
	for range 100 {
		if c, _, _ := send(t, addr, "GET", "conns.test", "/", nil, ""); c == 429 {
			refused = true
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !refused {
		t.Error("limit-connections 1: a concurrent request was not refused with limit-conn-status-code")
	}
	if c := <-done; c != 200 {
		t.Errorf("the request in progress got %d", c)
	}
	if c, _, _ := send(t, addr, "GET", "conns.test", "/", nil, ""); c != 200 {
		t.Errorf("after the slow request: %d", c)
	}
}

// TestNginxCORS: enable-cors and its defaults, the 204 preflight, origin
// lists with wildcard subdomains.
func TestNginxCORS(t *testing.T) {
	app := echo(t, "app")
	m := nginxService("app", app) +
		nginxIngressYAML("cors", "cors.test", "/", "app", map[string]string{"enable-cors": "true"}) +
		nginxIngressYAML("list", "list.test", "/", "app", map[string]string{"enable-cors": "true",
			"cors-allow-origin": "https://app.example.com, https://*.example.org", "cors-allow-credentials": "false",
			"cors-allow-methods": "GET, POST", "cors-allow-headers": "X-Custom", "cors-expose-headers": "X-Exposed", "cors-max-age": "60"}) +
		nginxIngressYAML("cors-off", "off.test", "/", "app", nil)
	addr := nginxRun(t, m, nil, "off.test")
	pre := func(origin string) map[string]string {
		return map[string]string{"Origin": origin, "Access-Control-Request-Method": "POST"}
	}
	runCases(t, addr, []nginxCase{
		{name: "preflight with defaults", method: "OPTIONS", host: "cors.test", headers: pre("https://any.test"), code: 204,
			want: map[string]string{"Access-Control-Allow-Origin": "https://any.test", "Access-Control-Allow-Credentials": "true",
				"Access-Control-Allow-Methods": "GET, PUT, POST, DELETE, PATCH, OPTIONS",
				"Access-Control-Allow-Headers": "DNT, Keep-Alive, User-Agent, X-Requested-With, If-Modified-Since, Cache-Control, Content-Type, Range, Authorization",
				"Access-Control-Max-Age":       "1728000"}},
		{name: "actual request", host: "cors.test", headers: map[string]string{"Origin": "https://any.test"}, code: 200,
			want: map[string]string{"Access-Control-Allow-Origin": "https://any.test", "Access-Control-Allow-Credentials": "true"}},
		{name: "listed origin", method: "OPTIONS", host: "list.test", headers: pre("https://app.example.com"), code: 204,
			want: map[string]string{"Access-Control-Allow-Origin": "https://app.example.com", "Access-Control-Allow-Credentials": "",
				"Access-Control-Allow-Methods": "GET, POST", "Access-Control-Allow-Headers": "X-Custom", "Access-Control-Max-Age": "60",
				"Access-Control-Expose-Headers": "X-Exposed"}},
		{name: "wildcard subdomain", host: "list.test", headers: map[string]string{"Origin": "https://a.example.org"}, code: 200,
			want: map[string]string{"Access-Control-Allow-Origin": "https://a.example.org", "Access-Control-Expose-Headers": "X-Exposed"}},
		{name: "origin not listed", host: "list.test", headers: map[string]string{"Origin": "https://evil.test"}, code: 200,
			want: map[string]string{"Access-Control-Allow-Origin": ""}},
		{name: "wildcard needs a subdomain", host: "list.test", headers: map[string]string{"Origin": "https://example.org"}, code: 200,
			want: map[string]string{"Access-Control-Allow-Origin": ""}},
		{name: "without enable-cors the backend answers OPTIONS", method: "OPTIONS", host: "off.test", headers: pre("https://any.test"),
			code: 200, bodyPrefix: "app /", want: map[string]string{"Access-Control-Allow-Origin": ""}},
	})
}
