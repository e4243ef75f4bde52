package harness

import (
	"context"
	"crypto/tls"
	"encoding/pem"
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

	certs "github.com/portico-dev/portico/tls"
)

// TestBackendTLSPolicy re-encrypts to an HTTPS backend in a network
// namespace as a BackendTLSPolicy says, reports the policy's status per
// Gateway, and follows its CA ConfigMap: emptied, requests fail and the
// policy says NoValidCACertificate; restored, they work again.
func TestBackendTLSPolicy(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "btls")
	cert, err := certs.SelfSigned("secure.internal")
	if err != nil {
		t.Fatal(err)
	}
	h, ln := hostListener(t, 9)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls sni=%s path=%s", r.TLS.ServerName, r.URL.Path)
	}), TLSConfig: &tls.Config{Certificates: []tls.Certificate{*cert}}}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}))

	svc, es := service(ns, "secure", h)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "secure-ca"}, Data: map[string]string{"ca.crt": caPEM}}
	class := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "portico-btls"},
		Spec: gatewayv1.GatewayClassSpec{ControllerName: "portico.dev/gateway-controller"}}
	gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "edge"},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: "portico-btls",
			Listeners: []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}}}}
	route := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "secure"},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "edge"}}},
			Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
				BackendObjectReference: gatewayv1.BackendObjectReference{Name: "secure", Port: ptr.To(gatewayv1.PortNumber(80))}}}}}},
		}}
	policy := &gatewayv1.BackendTLSPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "secure"},
		Spec: gatewayv1.BackendTLSPolicySpec{
			TargetRefs: []gatewayv1.LocalPolicyTargetReferenceWithSectionName{{LocalPolicyTargetReference: gatewayv1.LocalPolicyTargetReference{
				Kind: "Service", Name: "secure"}}},
			Validation: gatewayv1.BackendTLSPolicyValidation{
				CACertificateRefs: []gatewayv1.LocalObjectReference{{Kind: "ConfigMap", Name: "secure-ca"}},
				Hostname:          "secure.internal",
			}}}
	create(t, svc, es, cm, class, gw, route, policy)

	key := fmt.Sprintf("Gateway/%s/edge:80", ns)
	addr := boundAddr(t, key)
	expectCode := func(code int, body string) {
		t.Helper()
		eventually(t, 20*time.Second, func() error {
			resp, err := httpClient.Get("http://" + addr + "/hello")
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
	policyCondition := func(typ string, status metav1.ConditionStatus, reason string) {
		t.Helper()
		eventually(t, 20*time.Second, func() error {
			var p gatewayv1.BackendTLSPolicy
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(policy), &p); err != nil {
				return err
			}
			if len(p.Status.Ancestors) != 1 || p.Status.Ancestors[0].AncestorRef.Name != "edge" {
				return fmt.Errorf("ancestors %+v", p.Status.Ancestors)
			}
			for _, c := range p.Status.Ancestors[0].Conditions {
				if c.Type == typ && c.Status == status && c.Reason == reason && c.ObservedGeneration == p.Generation {
					return nil
				}
			}
			return fmt.Errorf("conditions %+v, want %s=%s %s", p.Status.Ancestors[0].Conditions, typ, status, reason)
		})
	}

	expectCode(200, "tls sni=secure.internal path=/hello")
	policyCondition("Accepted", metav1.ConditionTrue, "Accepted")
	policyCondition("ResolvedRefs", metav1.ConditionTrue, "ResolvedRefs")

	// A CA bundle that no longer parses: the policy cannot be used and
	// requests fail rather than going out unverified.
	cm.Data["ca.crt"] = ""
	if err := k8s.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	policyCondition("Accepted", metav1.ConditionFalse, "NoValidCACertificate")
	policyCondition("ResolvedRefs", metav1.ConditionFalse, "InvalidCACertificateRef")
	expectCode(502, "")

	cm.Data["ca.crt"] = caPEM
	if err := k8s.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	expectCode(200, "tls sni=secure.internal path=/hello")
	policyCondition("Accepted", metav1.ConditionTrue, "Accepted")

	// A hostname the backend's certificate does not carry fails the
	// handshake: 502, never an unverified connection.
	var p gatewayv1.BackendTLSPolicy
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(policy), &p); err != nil {
		t.Fatal(err)
	}
	p.Spec.Validation.Hostname = "other.internal"
	if err := k8s.Update(ctx, &p); err != nil {
		t.Fatal(err)
	}
	expectCode(502, "")
}
