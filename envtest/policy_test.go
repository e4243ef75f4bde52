package harness

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	portico "github.com/portico-dev/portico/api/v1alpha1"
)

// TestPolicyCRDValidation: the API server refuses what the CEL rules and
// schema of the policy CRDs forbid, with their messages.
func TestPolicyCRDValidation(t *testing.T) {
	ns := namespace(t, "polval")
	gwRef := gatewayv1.LocalPolicyTargetReferenceWithSectionName{LocalPolicyTargetReference: gatewayv1.LocalPolicyTargetReference{
		Group: "gateway.networking.k8s.io", Kind: "Gateway", Name: "edge"}}
	for _, c := range []struct {
		name string
		obj  client.Object
		want string
	}{
		{"no method", &portico.SecurityPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "empty"},
			Spec: portico.SecurityPolicySpec{TargetRefs: []gatewayv1.LocalPolicyTargetReferenceWithSectionName{gwRef}}},
			"set at least one of basicAuth"},
		{"service target", &portico.SecurityPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "svc"},
			Spec: portico.SecurityPolicySpec{TargetRefs: []gatewayv1.LocalPolicyTargetReferenceWithSectionName{{
				LocalPolicyTargetReference: gatewayv1.LocalPolicyTargetReference{Kind: "Service", Name: "x"}}},
				BasicAuth: &portico.BasicAuth{Users: portico.SecretKeyReference{Name: "u"}}}},
			"targets are Gateways, HTTPRoutes, GRPCRoutes"},
		{"both key sets", &portico.SecurityPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "jwks"},
			Spec: portico.SecurityPolicySpec{JWT: &portico.JWT{Providers: []portico.JWTProvider{{Name: "p",
				LocalJWKS:  &portico.LocalJWKS{Kind: "Secret", SecretKeyReference: portico.SecretKeyReference{Name: "k"}},
				RemoteJWKS: &portico.RemoteJWKS{URI: "https://issuer.example/jwks"}}}}}},
			"set exactly one of localJWKS, remoteJWKS"},
		{"algorithm none", &portico.SecurityPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "none"},
			Spec: portico.SecurityPolicySpec{JWT: &portico.JWT{Providers: []portico.JWTProvider{{Name: "p",
				RemoteJWKS: &portico.RemoteJWKS{URI: "https://issuer.example/jwks"}, Algorithms: []portico.JWTAlgorithm{"none"}}}}}},
			"Unsupported value: \"none\""},
		{"header key without name", &portico.TrafficPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "key"},
			Spec: portico.TrafficPolicySpec{RateLimit: &portico.RateLimit{Local: &portico.LocalRateLimit{Requests: 1, Unit: "Second",
				Key: &portico.RateLimitKey{Type: "Header"}}}}},
			"name is required for Header and Claim keys"},
		{"proxy timeout", &portico.TrafficPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pp-timeout"},
			Spec: portico.TrafficPolicySpec{ClientIPDetection: &portico.ClientIPDetection{ProxyProtocol: &portico.ProxyProtocol{
				TrustedCIDRs: []string{"10.0.0.0/8"}, Timeout: &metav1.Duration{Duration: 2 * time.Minute}}}}},
			"timeout must be between 100ms and 60s"},
		{"proxy without CIDRs", &portico.TrafficPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pp-cidrs"},
			Spec: portico.TrafficPolicySpec{ClientIPDetection: &portico.ClientIPDetection{ProxyProtocol: &portico.ProxyProtocol{}}}},
			"trustedCIDRs"},
	} {
		err := k8s.Create(context.Background(), c.obj)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want …%s…", c.name, err, c.want)
		}
	}
	ok := &portico.TrafficPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pp-ok"},
		Spec: portico.TrafficPolicySpec{TargetRefs: []gatewayv1.LocalPolicyTargetReferenceWithSectionName{gwRef},
			ClientIPDetection: &portico.ClientIPDetection{ProxyProtocol: &portico.ProxyProtocol{
				TrustedCIDRs: []string{"10.0.0.0/8"}, Timeout: &metav1.Duration{Duration: 2 * time.Second}}}}}
	if err := k8s.Create(context.Background(), ok); err != nil {
		t.Errorf("proxyProtocol only: %v", err)
	}
}

// TestPolicies: a SecurityPolicy and a TrafficPolicy attached to a
// Gateway guard its route on a real backend; statuses are written; a
// policy that cannot be resolved makes the route answer 500.
func TestPolicies(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "policies")
	h, ln := hostListener(t, 11)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "user=%s", r.Header.Get("X-User"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	svc, es := service(ns, "app", h)
	class := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "portico-policies"},
		Spec: gatewayv1.GatewayClassSpec{ControllerName: "portico.dev/gateway-controller"}}
	gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "edge"},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: "portico-policies",
			Listeners: []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}}}}
	route := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "edge"}}},
			Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
				BackendObjectReference: gatewayv1.BackendObjectReference{Name: "app", Port: ptr.To(gatewayv1.PortNumber(80))}}}}}},
		}}
	users := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "users"},
		StringData: map[string]string{".htpasswd": "bob:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ="}}
	target := []gatewayv1.LocalPolicyTargetReferenceWithSectionName{{LocalPolicyTargetReference: gatewayv1.LocalPolicyTargetReference{
		Group: "gateway.networking.k8s.io", Kind: "Gateway", Name: "edge"}}}
	sec := &portico.SecurityPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "auth"},
		Spec: portico.SecurityPolicySpec{TargetRefs: target, BasicAuth: &portico.BasicAuth{Users: portico.SecretKeyReference{Name: "users"},
			ForwardUsernameHeader: ptr.To(portico.HeaderName("X-User"))}}}
	traf := &portico.TrafficPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "limit"},
		Spec: portico.TrafficPolicySpec{TargetRefs: target,
			RateLimit: &portico.RateLimit{Local: &portico.LocalRateLimit{Requests: 1000, Unit: "Hour"}}}}
	create(t, svc, es, class, gw, route, users, sec, traf)

	addr := boundAddr(t, fmt.Sprintf("Gateway/%s/edge:80", ns))
	expect := func(auth string, code int, body string) {
		t.Helper()
		eventually(t, 20*time.Second, func() error {
			req, _ := http.NewRequest("GET", "http://"+addr+"/x", nil)
			if auth != "" {
				req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(auth)))
			}
			resp, err := httpClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != code || body != "" && string(b) != body {
				return fmt.Errorf("%d %q, want %d %q", resp.StatusCode, b, code, body)
			}
			return nil
		})
	}
	condition := func(obj client.Object, status func() *gatewayv1.PolicyStatus, typ string, want metav1.ConditionStatus, reason string) {
		t.Helper()
		eventually(t, 20*time.Second, func() error {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
				return err
			}
			st := status()
			if len(st.Ancestors) != 1 || st.Ancestors[0].AncestorRef.Name != "edge" {
				return fmt.Errorf("ancestors %+v", st.Ancestors)
			}
			for _, c := range st.Ancestors[0].Conditions {
				if c.Type == typ && c.Status == want && c.Reason == reason && c.ObservedGeneration == obj.GetGeneration() {
					return nil
				}
			}
			return fmt.Errorf("conditions %+v, want %s=%s %s", st.Ancestors[0].Conditions, typ, want, reason)
		})
	}
	expect("", 401, "")
	expect("bob:wrong", 401, "")
	expect("bob:secret", 200, "user=bob")
	condition(sec, func() *gatewayv1.PolicyStatus { return &sec.Status }, "Accepted", metav1.ConditionTrue, "Accepted")
	condition(sec, func() *gatewayv1.PolicyStatus { return &sec.Status }, "ResolvedRefs", metav1.ConditionTrue, "ResolvedRefs")
	condition(traf, func() *gatewayv1.PolicyStatus { return &traf.Status }, "Accepted", metav1.ConditionTrue, "Accepted")

	// The users moved to a Secret that does not exist: the route answers
	// 500 (never unchecked) and the status says why.
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(sec), sec); err != nil {
		t.Fatal(err)
	}
	sec.Spec.BasicAuth.Users.Name = "gone"
	if err := k8s.Update(ctx, sec); err != nil {
		t.Fatal(err)
	}
	condition(sec, func() *gatewayv1.PolicyStatus { return &sec.Status }, "ResolvedRefs", metav1.ConditionFalse, "InvalidReference")
	condition(sec, func() *gatewayv1.PolicyStatus { return &sec.Status }, "Accepted", metav1.ConditionFalse, "Invalid")
	expect("bob:secret", 500, "")

	// Deleting the policy opens the route.
	if err := k8s.Delete(ctx, sec); err != nil {
		t.Fatal(err)
	}
	expect("", 200, "user=")
}
