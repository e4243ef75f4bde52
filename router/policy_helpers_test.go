package router

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// echoBackend answers 200 with every request header it got as a
// "Got-Name" response header, so tests see what reached the backend.
func echoBackend(t *testing.T) *Backend {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range r.Header {
			w.Header()["Got-"+k] = v
		}
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "backend "+r.URL.RequestURI())
	}))
	t.Cleanup(s.Close)
	return &Backend{Name: "echo", Endpoints: []Endpoint{{addr(s)}}}
}

// policyRoute is a route on path to b with policy p.
func policyRoute(path string, b *Backend, p *Policy) Route {
	return Route{Path: path, Backends: []WeightedBackend{{Backend: b, Weight: 1}}, Policy: p,
		Source: Source{Kind: "Test", Name: strings.Trim(path, "/"), Rule: -1}}
}

// policyCase is one request and what must come back.
type policyCase struct {
	name   string
	method string
	path   string
	header []string // name, value pairs
	body   string
	code   int
	want   map[string]string // response headers ("" = absent)
}

// runPolicyCases sends each case to front and checks the answers.
func runPolicyCases(t *testing.T, front string, cases []policyCase) {
	t.Helper()
	runPolicyCasesWith(t, noRedirects, 1, front, cases)
}

// noRedirects is a client that returns redirects instead of following.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// runPolicyCasesWith is runPolicyCases with a client speaking HTTP/proto.
func runPolicyCasesWith(t *testing.T, client *http.Client, proto int, front string, cases []policyCase) {
	t.Helper()
	for _, c := range cases {
		method := c.method
		if method == "" {
			method = http.MethodGet
		}
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		req, _ := http.NewRequest(method, front+c.path, body)
		for i := 0; i+1 < len(c.header); i += 2 {
			req.Header.Add(c.header[i], c.header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if resp.ProtoMajor != proto {
			t.Fatalf("%s: served over HTTP/%d", c.name, resp.ProtoMajor)
		}
		text, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("%s: status %d (%q), want %d", c.name, resp.StatusCode, strings.TrimSpace(string(text)), c.code)
		}
		for k, v := range c.want {
			if got := strings.Join(resp.Header.Values(k), ","); got != v {
				t.Errorf("%s: %s = %q, want %q", c.name, k, got, v)
			}
		}
	}
}

// testIssuer signs tokens with an ES256 key.
type testIssuer struct {
	t   testing.TB
	key *ecdsa.PrivateKey
	kid string
}

func newIssuer(t testing.TB, kid string) *testIssuer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &testIssuer{t: t, key: k, kid: kid}
}

// jwks is the issuer's public key set as JSON.
func (is *testIssuer) jwks(more ...*testIssuer) string {
	set := jose.JSONWebKeySet{}
	for _, i := range append([]*testIssuer{is}, more...) {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &i.key.PublicKey, KeyID: i.kid, Algorithm: "ES256", Use: "sig"})
	}
	b, _ := json.Marshal(set)
	return string(b)
}

// token signs claims; std fills iss, aud, exp when absent.
func (is *testIssuer) token(claims map[string]any) string {
	is.t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: is.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", is.kid))
	if err != nil {
		is.t.Fatal(err)
	}
	all := map[string]any{"iss": "https://issuer.test", "aud": "api", "exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range claims {
		if v == nil {
			delete(all, k)
			continue
		}
		all[k] = v
	}
	s, err := jwt.Signed(sig).Claims(all).Serialize()
	if err != nil {
		is.t.Fatal(err)
	}
	return s
}
