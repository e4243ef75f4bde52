package router

import (
	"bufio"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// benchPolicies are the policies benchmarked, each admitting the
// benchmark's request (credentials verified and cached on the first).
func benchPolicies(b *testing.B) (map[string]*Policy, string) {
	is := newIssuer(b, "k1")
	tok := is.token(map[string]any{"sub": "u1"})
	return map[string]*Policy{
		"none":      nil,
		"basicAuth": {BasicAuth: &BasicAuth{Htpasswd: testHtpasswd(b), UserHeader: "X-User"}},
		"jwt": {JWT: &JWTAuth{Providers: []JWTProvider{{Name: "p", Issuer: "https://issuer.test", LocalJWKS: is.jwks(),
			ClaimsToHeaders: []ClaimToHeader{{Claim: "sub", Header: "X-Sub"}}}}}},
		"apiKey": {APIKey: &APIKeyAuth{Keys: []APIKey{{ClientID: "c", Key: "k-123"}}, ClientIDHeader: "X-Client"}},
		"authorization": {Authorization: &Authorization{Rules: []AuthzRule{{Action: AuthzAllow,
			ClientCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}}},
		"rateLimit":    {RateLimit: &LocalRateLimit{Requests: 1 << 30, Per: time.Second}},
		"rateLimitIP":  {RateLimit: &LocalRateLimit{Requests: 1 << 30, Per: time.Second, Key: RateKeyClientIP}},
		"maxBodyBytes": {MaxRequestBody: 1 << 20},
	}, tok
}

var benchOrder = []string{"none", "basicAuth", "jwt", "apiKey", "authorization", "rateLimit", "rateLimitIP", "maxBodyBytes"}

// BenchmarkPolicyChain runs each policy's chain alone on an Exchange, as
// each engine fills it: what a policy adds to a request.
func BenchmarkPolicyChain(b *testing.B) {
	policies, tok := benchPolicies(b)
	for _, name := range benchOrder {
		p := policies[name]
		for _, eng := range []string{"std", "fast"} {
			b.Run(name+"/"+eng, func(b *testing.B) {
				var fh fasthttp.RequestHeader
				hh := http.Header{}
				var h Headers = hh
				if eng == "fast" {
					h = fastReqHeaders{&fh}
				}
				h.Set("Authorization", basic("bob", "secret"))
				if name == "jwt" {
					h.Set("Authorization", "Bearer "+tok)
				}
				h.Set("X-API-Key", "k-123")
				x := &Exchange{Method: "GET", Host: "foo.com", Path: "/api", Header: h, RemoteAddr: "127.0.0.1:4000",
					clientIP: netip.MustParseAddr("127.0.0.1")}
				route := &CompiledRoute{Route: &Route{Policy: p}}
				resp := http.Header{}
				var ps policyState
				if code, text := route.policyAnswer(b.Context(), x, resp, &ps); code != 0 {
					b.Fatalf("%d %s", code, text)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					ps = policyState{}
					if p == nil {
						continue
					}
					if name == "apiKey" {
						h.Set("X-API-Key", "k-123") // the step removes it
					}
					if code, _ := route.policyAnswer(b.Context(), x, resp, &ps); code != 0 {
						b.Fatal(code)
					}
				}
			})
		}
	}
}

// BenchmarkPolicyEngines proxies keep-alive GETs through a real listener
// on each HTTP/1.x engine with each policy, beside "none": the whole
// proxy path with the policy in it.
func BenchmarkPolicyEngines(b *testing.B) {
	policies, tok := benchPolicies(b)
	for _, eng := range []struct {
		name string
		e    Engine
	}{{"std", EngineStd}, {"fast", EngineFast}} {
		for _, name := range benchOrder {
			b.Run(eng.name+"/"+name, func(b *testing.B) {
				be := rawBackend(b)
				rt := New(Options{Edge: EdgeOptions{Engine: eng.e}})
				rt.Swap(Compile(Config{Routes: []Route{{Host: "foo.com", HostMatch: HostExact, Path: "/", Policy: policies[name],
					Backends: []WeightedBackend{{Backend: &Backend{Name: "b", Endpoints: []Endpoint{{be}}}, Weight: 1}}}}}))
				front := startStrict(b, rt)
				c, err := net.Dial("tcp", front)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				br := bufio.NewReader(c)
				auth := basic("bob", "secret")
				if name == "jwt" {
					auth = "Bearer " + tok
				}
				req := []byte("GET /api/v1/x HTTP/1.1\r\nHost: foo.com\r\nUser-Agent: bench\r\nAccept: */*\r\nAuthorization: " + auth +
					"\r\nX-API-Key: k-123\r\n\r\n")
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := c.Write(req); err != nil {
						b.Fatal(err)
					}
					if err := readResponse(br); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
