package harness

import (
	"context"
	"crypto/sha1" //nolint:gosec // htpasswd {SHA} is what is tested
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	portico "github.com/portico-dev/portico/api/v1alpha1"
)

// TestPolicySecretRotation: the Secrets policies name are not cached
// (only TLS Secrets are), yet rotating an htpasswd Secret or an API-key
// Secret takes effect within seconds, not at the 5-minute recheck: the
// old credential is refused, the new one admitted.
func TestPolicySecretRotation(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "policy-rotate")
	h := backend(t, 57, "app")
	svc, es := service(ns, "app", h)
	class := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "portico-rotate"},
		Spec: gatewayv1.GatewayClassSpec{ControllerName: "portico.dev/gateway-controller"}}
	gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "edge"},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: "portico-rotate",
			Listeners: []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}}}}
	route := func(name, path string) *gatewayv1.HTTPRoute {
		return &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: gatewayv1.HTTPRouteSpec{
				CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "edge"}}},
				Rules: []gatewayv1.HTTPRouteRule{{
					Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{
						Type: ptr.To(gatewayv1.PathMatchPathPrefix), Value: ptr.To(path)}}},
					BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
						BackendObjectReference: gatewayv1.BackendObjectReference{Name: "app", Port: ptr.To(gatewayv1.PortNumber(80))}}}}}},
			}}
	}
	target := func(name string) []gatewayv1.LocalPolicyTargetReferenceWithSectionName {
		return []gatewayv1.LocalPolicyTargetReferenceWithSectionName{{LocalPolicyTargetReference: gatewayv1.LocalPolicyTargetReference{
			Group: "gateway.networking.k8s.io", Kind: "HTTPRoute", Name: gatewayv1.ObjectName(name)}}}
	}
	// bob:secret, then bob:fresh ({SHA} hashes).
	users := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "users"},
		StringData: map[string]string{".htpasswd": "bob:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ="}}
	keys := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "keys"},
		StringData: map[string]string{"client-a": "key-old"}}
	basic := &portico.SecurityPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "basic"},
		Spec: portico.SecurityPolicySpec{TargetRefs: target("basic"),
			BasicAuth: &portico.BasicAuth{Users: portico.SecretKeyReference{Name: "users"}}}}
	apiKey := &portico.SecurityPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "apikey"},
		Spec: portico.SecurityPolicySpec{TargetRefs: target("apikey"),
			APIKey: &portico.APIKeyAuth{CredentialRefs: []portico.SecretKeyReference{{Name: "keys"}}}}}
	create(t, svc, es, class, gw, route("basic", "/basic"), route("apikey", "/key"), users, keys, basic, apiKey)
	addr := boundAddr(t, fmt.Sprintf("Gateway/%s/edge:80", ns))

	status := func(path, header, value string) (int, error) {
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		req.Header.Set(header, value)
		resp, err := httpClient.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	basicAuth := func(user string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(user)) }
	expect := func(within time.Duration, path, header, value string, code int) {
		t.Helper()
		eventually(t, within, func() error {
			got, err := status(path, header, value)
			if err != nil {
				return err
			}
			if got != code {
				return fmt.Errorf("%s with %s: %d, want %d", path, value, got, code)
			}
			return nil
		})
	}
	expect(20*time.Second, "/basic", "Authorization", basicAuth("bob:secret"), 200)
	expect(20*time.Second, "/key", "X-API-Key", "key-old", 200)
	// Let the rebuilds that status writes cause settle, so that only the
	// Secret's change can explain what follows.
	time.Sleep(2 * time.Second)

	rotate := func(s *corev1.Secret, data map[string]string) time.Time {
		t.Helper()
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(s), s); err != nil {
			t.Fatal(err)
		}
		s.Data, s.StringData = nil, data
		if err := k8s.Update(ctx, s); err != nil {
			t.Fatal(err)
		}
		return time.Now()
	}
	start := rotate(users, map[string]string{".htpasswd": "bob:{SHA}" + sha1Base64("fresh")})
	expect(5*time.Second, "/basic", "Authorization", basicAuth("bob:secret"), 401)
	t.Logf("old password refused %v after the htpasswd Secret changed", time.Since(start).Round(time.Millisecond))
	expect(5*time.Second, "/basic", "Authorization", basicAuth("bob:fresh"), 200)

	start = rotate(keys, map[string]string{"client-a": "key-new"})
	expect(5*time.Second, "/key", "X-API-Key", "key-old", 401)
	t.Logf("revoked API key refused %v after the Secret changed", time.Since(start).Round(time.Millisecond))
	expect(5*time.Second, "/key", "X-API-Key", "key-new", 200)

	// A deleted credential Secret: the route is never served unchecked.
	if err := k8s.Delete(ctx, keys); err != nil {
		t.Fatal(err)
	}
	expect(5*time.Second, "/key", "X-API-Key", "key-new", 500)
}

// sha1Base64 is an htpasswd {SHA} hash.
func sha1Base64(password string) string {
	sum := sha1.Sum([]byte(password))
	return base64.StdEncoding.EncodeToString(sum[:])
}
