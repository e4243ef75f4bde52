package router

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// testHtpasswd has one user per hash kind, each with password "secret"
// (apr1 and crypt SHA-512 made with `openssl passwd -apr1` / `-6`).
func testHtpasswd(t testing.TB) string {
	bc, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum([]byte("secret"))
	return strings.Join([]string{
		"# users",
		"alice:" + string(bc),
		"bob:{SHA}" + base64.StdEncoding.EncodeToString(sum[:]),
		"carol:$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/",
		"dave:$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1",
	}, "\n")
}

func TestPolicyBasicAuth(t *testing.T) {
	b := echoBackend(t)
	p := &Policy{BasicAuth: &BasicAuth{Htpasswd: testHtpasswd(t), Realm: "Portico", UserHeader: "X-User"}}
	_, front := serveTable(t, Config{Routes: []Route{policyRoute("/basic", b, p), policyRoute("/open", b, nil)}}, Options{})
	challenge := `Basic realm="Portico", charset="UTF-8"`
	runPolicyCases(t, front.URL, []policyCase{
		{name: "no credentials", path: "/basic", code: 401, want: map[string]string{"WWW-Authenticate": challenge}},
		{name: "wrong password", path: "/basic", header: []string{"Authorization", basic("alice", "nope")}, code: 401,
			want: map[string]string{"WWW-Authenticate": challenge}},
		{name: "unknown user", path: "/basic", header: []string{"Authorization", basic("eve", "secret")}, code: 401},
		{name: "not base64", path: "/basic", header: []string{"Authorization", "Basic !!!"}, code: 401},
		{name: "bearer instead", path: "/basic", header: []string{"Authorization", "Bearer abc"}, code: 401},
		{name: "bcrypt", path: "/basic", header: []string{"Authorization", basic("alice", "secret")}, code: 200,
			want: map[string]string{"Got-X-User": "alice", "WWW-Authenticate": ""}},
		{name: "bcrypt, cached", path: "/basic", header: []string{"Authorization", basic("alice", "secret")}, code: 200,
			want: map[string]string{"Got-X-User": "alice"}},
		{name: "SHA1", path: "/basic", header: []string{"Authorization", basic("bob", "secret")}, code: 200,
			want: map[string]string{"Got-X-User": "bob"}},
		{name: "apr1", path: "/basic", header: []string{"Authorization", basic("carol", "secret")}, code: 200,
			want: map[string]string{"Got-X-User": "carol"}},
		{name: "crypt SHA-512", path: "/basic", header: []string{"Authorization", basic("dave", "secret")}, code: 200,
			want: map[string]string{"Got-X-User": "dave"}},
		{name: "spoofed user header replaced", path: "/basic",
			header: []string{"Authorization", basic("bob", "secret"), "X-User", "root"}, code: 200,
			want: map[string]string{"Got-X-User": "bob"}},
		{name: "spoofed user header without credentials", path: "/basic", header: []string{"X-User", "root"}, code: 401},
		{name: "other route unaffected", path: "/open", code: 200},
	})
}

func TestPolicyBasicAuthInvalid(t *testing.T) {
	for _, c := range []struct{ htpasswd, want string }{
		{"alice:secret", "line 1 (user \"alice\"): unsupported or malformed hash"},
		{"# only a comment\n", "no users"},
		{"\nnocolon", "line 2: want user:hash"},
	} {
		err := (&Policy{BasicAuth: &BasicAuth{Htpasswd: c.htpasswd}}).Check()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want …%s…", c.htpasswd, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%q: the error shows the password entry: %v", c.htpasswd, err)
		}
	}
}

// TestPolicyInvalidFailsClosed: a route whose policy does not compile
// answers 500 (it is not dropped, which would let a shorter prefix serve
// it unchecked); other routes are served.
func TestPolicyInvalidFailsClosed(t *testing.T) {
	b := echoBackend(t)
	bad := &Policy{BasicAuth: &BasicAuth{Htpasswd: "alice:plain"}}
	_, front := serveTable(t, Config{Routes: []Route{policyRoute("/", b, nil), policyRoute("/admin", b, bad)}}, Options{})
	runPolicyCases(t, front.URL, []policyCase{
		{name: "bad policy", path: "/admin/x", code: 500},
		{name: "others served", path: "/x", code: 200},
	})
}

func TestPolicyAPIKey(t *testing.T) {
	b := echoBackend(t)
	p := &Policy{APIKey: &APIKeyAuth{Keys: []APIKey{{ClientID: "mobile", Key: "k-123"}, {ClientID: "web", Key: "k-456"}},
		From: []TokenSource{{Header: "X-API-Key"}, {Query: "api_key"}, {Cookie: "key"}}, ClientIDHeader: "X-Client"}}
	_, front := serveTable(t, Config{Routes: []Route{policyRoute("/api", b, p)}}, Options{})
	runPolicyCases(t, front.URL, []policyCase{
		{name: "no key", path: "/api", code: 401},
		{name: "wrong key", path: "/api", header: []string{"X-API-Key", "k-999"}, code: 401},
		{name: "header", path: "/api", header: []string{"X-API-Key", "k-123", "X-Client", "admin"}, code: 200,
			want: map[string]string{"Got-X-Client": "mobile", "Got-X-Api-Key": ""}},
		{name: "query", path: "/api?api_key=k-456", code: 200, want: map[string]string{"Got-X-Client": "web"}},
		{name: "cookie", path: "/api", header: []string{"Cookie", "a=b; key=k-456"}, code: 200,
			want: map[string]string{"Got-X-Client": "web"}},
	})
	dup := &Policy{APIKey: &APIKeyAuth{Keys: []APIKey{{ClientID: "a", Key: "same"}, {ClientID: "b", Key: "same"}}}}
	if err := dup.Check(); err == nil || !strings.Contains(err.Error(), "apiKey.keys[1]") {
		t.Errorf("duplicate key: %v", err)
	}
}

// hs256 signs claims with HMAC by hand: a token the ES256-only provider
// must refuse.
func hs256(claims map[string]any, secret []byte) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT", "kid": "k1"})
	c, _ := json.Marshal(claims)
	in := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(in))
	return in + "." + enc.EncodeToString(m.Sum(nil))
}

func TestPolicyJWT(t *testing.T) {
	b := echoBackend(t)
	is := newIssuer(t, "k1")
	other := newIssuer(t, "k1") // same kid, different key
	prov := JWTProvider{Name: "main", Issuer: "https://issuer.test", Audiences: []string{"api"}, LocalJWKS: is.jwks(),
		Algorithms: []string{"ES256"}, Leeway: 30 * time.Second,
		From:            []TokenSource{{Header: "Authorization", Prefix: "Bearer "}, {Cookie: "session"}, {Query: "token"}},
		ClaimsToHeaders: []ClaimToHeader{{Claim: "sub", Header: "X-Sub"}, {Claim: "org.id", Header: "X-Org"}, {Claim: "groups", Header: "X-Groups"}}}
	scoped := prov
	scoped.RequiredScopes = []string{"write"}
	scoped.RequiredClaims = []ClaimMatch{{Name: "groups", Values: []string{"admins"}}}
	_, front := serveTable(t, Config{Routes: []Route{
		policyRoute("/jwt", b, &Policy{JWT: &JWTAuth{Providers: []JWTProvider{prov}}}),
		policyRoute("/scoped", b, &Policy{JWT: &JWTAuth{Providers: []JWTProvider{scoped}}}),
	}}, Options{})
	now := time.Now()
	good := is.token(map[string]any{"sub": "u1", "org": map[string]any{"id": 7}, "groups": []string{"dev", "admins"}, "scope": "read write"})
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://issuer.test","aud":"api","sub":"x"}`)) + "."
	runPolicyCases(t, front.URL, []policyCase{
		{name: "no token", path: "/jwt", code: 401, want: map[string]string{"WWW-Authenticate": "Bearer"}},
		{name: "valid", path: "/jwt", header: bearer(good), code: 200,
			want: map[string]string{"Got-X-Sub": "u1", "Got-X-Org": "7", "Got-X-Groups": "dev,admins"}},
		{name: "valid, cached", path: "/jwt", header: append(bearer(good), "X-Sub", "spoof"), code: 200,
			want: map[string]string{"Got-X-Sub": "u1"}},
		{name: "spoofed claim header, no claim", path: "/jwt", header: append(bearer(is.token(map[string]any{})), "X-Sub", "spoof"), code: 200,
			want: map[string]string{"Got-X-Sub": ""}},
		{name: "from cookie", path: "/jwt", header: []string{"Cookie", "session=" + good}, code: 200},
		{name: "from query", path: "/jwt?token=" + good, code: 200},
		{name: "garbage", path: "/jwt", header: bearer("abc.def.ghi"), code: 401,
			want: map[string]string{"WWW-Authenticate": `Bearer error="invalid_token"`}},
		{name: "expired", path: "/jwt", header: bearer(is.token(map[string]any{"exp": now.Add(-time.Hour).Unix()})), code: 401},
		{name: "expired within leeway", path: "/jwt", header: bearer(is.token(map[string]any{"exp": now.Add(-10 * time.Second).Unix()})), code: 200},
		{name: "not yet valid", path: "/jwt", header: bearer(is.token(map[string]any{"nbf": now.Add(time.Hour).Unix()})), code: 401},
		{name: "wrong audience", path: "/jwt", header: bearer(is.token(map[string]any{"aud": "other"})), code: 401},
		{name: "wrong issuer", path: "/jwt", header: bearer(is.token(map[string]any{"iss": "https://evil.test"})), code: 401},
		{name: "other key, same kid", path: "/jwt", header: bearer(other.token(nil)), code: 401},
		{name: "alg none", path: "/jwt", header: bearer(none), code: 401},
		{name: "HS256 not allowed", path: "/jwt", header: bearer(hs256(map[string]any{"iss": "https://issuer.test", "aud": "api"}, []byte("k"))), code: 401},
		{name: "scoped: has scope and group", path: "/scoped", header: bearer(good), code: 200},
		{name: "scoped: lacks scope", path: "/scoped", header: bearer(is.token(map[string]any{"groups": []string{"admins"}, "scope": "read"})), code: 403,
			want: map[string]string{"WWW-Authenticate": `Bearer error="insufficient_scope"`}},
		{name: "scoped: scp list", path: "/scoped", header: bearer(is.token(map[string]any{"groups": []string{"admins"}, "scp": []string{"write"}})), code: 200},
		{name: "scoped: lacks group", path: "/scoped", header: bearer(is.token(map[string]any{"groups": []string{"dev"}, "scope": "write"})), code: 403},
		{name: "claim with a newline is refused", path: "/jwt", header: bearer(is.token(map[string]any{"sub": "a\r\nX-Admin: 1"})), code: 403},
	})
}

func TestPolicyJWTInvalid(t *testing.T) {
	is := newIssuer(t, "k1")
	for _, c := range []struct {
		p    JWTProvider
		want string
	}{
		{JWTProvider{Name: "a"}, "jwt.providers[0]: set localJWKS or remoteJWKS"},
		{JWTProvider{Name: "a", LocalJWKS: "{"}, "jwt.providers[0].localJWKS: not a JSON Web Key Set"},
		{JWTProvider{Name: "a", LocalJWKS: `{"keys":[]}`}, "no usable signature key"},
		{JWTProvider{Name: "a", LocalJWKS: is.jwks(), Algorithms: []string{"none"}}, `algorithms[0]: "none" is not a supported`},
		{JWTProvider{Name: "a", LocalJWKS: is.jwks(), RemoteJWKS: &RemoteJWKS{URL: "https://x"}}, "set one of"},
		{JWTProvider{Name: "a", RemoteJWKS: &RemoteJWKS{URL: "ftp://x"}}, "remoteJWKS: url"},
		{JWTProvider{Name: "a", LocalJWKS: is.jwks(), From: []TokenSource{{Header: "A", Cookie: "b"}}}, "from[0]: set exactly one"},
	} {
		err := (&Policy{JWT: &JWTAuth{Providers: []JWTProvider{c.p}}}).Check()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want …%s…", c.p, err, c.want)
		}
	}
}
