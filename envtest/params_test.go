package harness

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// TestGatewayParametersRef chooses the Gateway's Service type with a
// parameters ConfigMap, follows changes to it, and rejects a Gateway whose
// ConfigMap is malformed.
func TestGatewayParametersRef(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "gw-params")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "params"}, Data: map[string]string{"serviceType": "ClusterIP"}}
	class := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "portico-params"},
		Spec: gatewayv1.GatewayClassSpec{ControllerName: "portico.dev/gateway-controller"}}
	gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "internal"},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: "portico-params",
			Infrastructure: &gatewayv1.GatewayInfrastructure{ParametersRef: &gatewayv1.LocalParametersReference{Kind: "ConfigMap", Name: "params"}},
			Listeners:      []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}}}}
	create(t, cm, class, gw)

	serviceType := func(want corev1.ServiceType) {
		t.Helper()
		eventually(t, 20*time.Second, func() error {
			var svc corev1.Service
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: "portico-system", Name: "gw-gw-params-internal"}, &svc); err != nil {
				return err
			}
			if svc.Spec.Type != want {
				return fmt.Errorf("Service type %s, want %s", svc.Spec.Type, want)
			}
			return nil
		})
	}
	gatewayAccepted := func(status metav1.ConditionStatus, reason string) {
		t.Helper()
		eventually(t, 20*time.Second, func() error {
			var g gatewayv1.Gateway
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(gw), &g); err != nil {
				return err
			}
			for _, c := range g.Status.Conditions {
				if c.Type == "Accepted" && c.Status == status && c.Reason == reason {
					return nil
				}
			}
			return fmt.Errorf("conditions %+v, want Accepted=%s %s", g.Status.Conditions, status, reason)
		})
	}
	serviceType(corev1.ServiceTypeClusterIP)
	gatewayAccepted(metav1.ConditionTrue, "Accepted")

	cm.Data["serviceType"] = "NodePort"
	if err := k8s.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	serviceType(corev1.ServiceTypeNodePort)

	cm.Data["serviceType"] = "Magic"
	if err := k8s.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	gatewayAccepted(metav1.ConditionFalse, "InvalidParameters")
}
