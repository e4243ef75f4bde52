package harness

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func conditionIs(cs []metav1.Condition, typ string, status metav1.ConditionStatus) error {
	c := meta.FindStatusCondition(cs, typ)
	if c == nil || c.Status != status {
		return fmt.Errorf("condition %s = %+v, want %s", typ, c, status)
	}
	return nil
}

// TestGatewayAPIEndToEnd creates a GatewayClass, a Gateway and an
// HTTPRoute on the real API server and checks the per-Gateway Service,
// statuses, and requests through the Gateway's own listener to backends in
// network namespaces.
func TestGatewayAPIEndToEnd(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "gw-e2e")
	blue, green := backend(t, 6, "gw-blue"), backend(t, 7, "gw-green")
	svcB, esB := service(ns, "blue", blue)
	svcG, esG := service(ns, "green", green)
	create(t, svcB, esB, svcG, esG)
	class := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "portico"},
		Spec: gatewayv1.GatewayClassSpec{ControllerName: "portico.dev/gateway-controller"}}
	gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: "portico",
			Infrastructure: &gatewayv1.GatewayInfrastructure{Labels: map[gatewayv1.LabelKey]gatewayv1.LabelValue{"team": "shop"},
				Annotations: map[gatewayv1.AnnotationKey]gatewayv1.AnnotationValue{"example.com/cost-center": "42"}},
			Listeners: []gatewayv1.Listener{{
				Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType, Hostname: ptr.To(gatewayv1.Hostname("*.example.com")),
			}}}}
	route := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop"},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "web"}}},
			Hostnames:       []gatewayv1.Hostname{"shop.example.com"},
			Rules: []gatewayv1.HTTPRouteRule{
				{Matches: []gatewayv1.HTTPRouteMatch{{Headers: []gatewayv1.HTTPHeaderMatch{{Name: "env", Value: "canary"}}}},
					BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "green", Port: ptr.To(gatewayv1.PortNumber(80))}}}}},
				{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "blue", Port: ptr.To(gatewayv1.PortNumber(80))}}}}},
			},
		}}
	create(t, class, gw, route)

	// The Gateway gets its own Service, whose target port Portico serves.
	var svc corev1.Service
	eventually(t, 20*time.Second, func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: "portico-system", Name: "gw-gw-e2e-web"}, &svc)
	})
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 80 || svc.Spec.Ports[0].TargetPort.IntVal < 31000 {
		t.Fatalf("Gateway Service ports %+v", svc.Spec.Ports)
	}
	if svc.Labels["team"] != "shop" || svc.Annotations["example.com/cost-center"] != "42" {
		t.Fatalf("spec.infrastructure not on the Service: labels %v annotations %v", svc.Labels, svc.Annotations)
	}
	key := fmt.Sprintf("Gateway/%s/web:80", ns)
	addr := boundAddr(t, key)
	if addr != fmt.Sprintf("127.0.0.1:%d", svc.Spec.Ports[0].TargetPort.IntVal) {
		t.Fatalf("bound %s, Service targets %d", addr, svc.Spec.Ports[0].TargetPort.IntVal)
	}
	get := func(host string, hdr ...string) (int, string, error) {
		req, _ := http.NewRequest("GET", "http://"+addr+"/x", nil)
		req.Host = host
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := httpClient.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	expectGW := func(host string, code int, body string, hdr ...string) {
		t.Helper()
		eventually(t, 20*time.Second, func() error {
			c, b, err := get(host, hdr...)
			if err != nil {
				return err
			}
			if c != code || (body != "" && b != body) {
				return fmt.Errorf("%s %v: %d %q, want %d %q", host, hdr, c, b, code, body)
			}
			return nil
		})
	}
	expectGW("shop.example.com", 200, "gw-blue /x")
	expectGW("shop.example.com", 200, "gw-green /x", "env", "canary")
	expectGW("other.example.com", 404, "")
	// The Ingress listener does not serve Gateway routes.
	if c, _, _ := fetch("shop.example.com", "/x"); c != 404 {
		t.Fatalf("Gateway route leaked onto the Ingress listener: %d", c)
	}

	eventually(t, 20*time.Second, func() error {
		var gc gatewayv1.GatewayClass
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(class), &gc); err != nil {
			return err
		}
		if len(gc.Status.SupportedFeatures) == 0 {
			return fmt.Errorf("no supportedFeatures")
		}
		return conditionIs(gc.Status.Conditions, "Accepted", metav1.ConditionTrue)
	})
	eventually(t, 20*time.Second, func() error {
		var g gatewayv1.Gateway
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(gw), &g); err != nil {
			return err
		}
		if err := conditionIs(g.Status.Conditions, "Programmed", metav1.ConditionTrue); err != nil {
			return err
		}
		if len(g.Status.Addresses) != 1 || g.Status.Addresses[0].Value != svc.Spec.ClusterIP {
			return fmt.Errorf("addresses %+v, want the Service's cluster IP %s", g.Status.Addresses, svc.Spec.ClusterIP)
		}
		if len(g.Status.Listeners) != 1 || g.Status.Listeners[0].AttachedRoutes != 1 {
			return fmt.Errorf("listeners %+v", g.Status.Listeners)
		}
		if c := meta.FindStatusCondition(g.Status.Conditions, "Accepted"); c == nil || c.ObservedGeneration != g.Generation || c.LastTransitionTime.IsZero() {
			return fmt.Errorf("Accepted condition %+v", c)
		}
		return nil
	})
	eventually(t, 20*time.Second, func() error {
		var r gatewayv1.HTTPRoute
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(route), &r); err != nil {
			return err
		}
		if len(r.Status.Parents) != 1 || r.Status.Parents[0].ControllerName != "portico.dev/gateway-controller" {
			return fmt.Errorf("parents %+v", r.Status.Parents)
		}
		if err := conditionIs(r.Status.Parents[0].Conditions, "Accepted", metav1.ConditionTrue); err != nil {
			return err
		}
		return conditionIs(r.Status.Parents[0].Conditions, "ResolvedRefs", metav1.ConditionTrue)
	})

	// A GRPCRoute on the same listener: calls reach an h2c backend.
	h2, ln := hostListener(t, 8)
	grpcSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s %s", r.Proto, r.URL.Path, r.Header.Get("x-routed-by"))
	}), Protocols: new(http.Protocols)}
	grpcSrv.Protocols.SetUnencryptedHTTP2(true)
	go grpcSrv.Serve(ln)
	t.Cleanup(func() { grpcSrv.Close() })
	svcE, esE := service(ns, "echo", h2)
	grpcRoute := &gatewayv1.GRPCRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "echo"},
		Spec: gatewayv1.GRPCRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "web"}}},
			Hostnames:       []gatewayv1.Hostname{"grpc.example.com"},
			Rules: []gatewayv1.GRPCRouteRule{{
				Matches: []gatewayv1.GRPCRouteMatch{{Method: &gatewayv1.GRPCMethodMatch{Service: ptr.To("grpc.testing.EchoService")}}},
				Filters: []gatewayv1.GRPCRouteFilter{{Type: gatewayv1.GRPCRouteFilterRequestHeaderModifier,
					RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{Set: []gatewayv1.HTTPHeader{{Name: "x-routed-by", Value: "portico"}}}}},
				BackendRefs: []gatewayv1.GRPCBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "echo", Port: ptr.To(gatewayv1.PortNumber(80))}}}},
			}},
		}}
	create(t, svcE, esE, grpcRoute)
	h2c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Protocols: func() *http.Protocols {
		p := new(http.Protocols)
		p.SetUnencryptedHTTP2(true)
		return p
	}()}}
	eventually(t, 20*time.Second, func() error {
		req, _ := http.NewRequest("POST", "http://"+addr+"/grpc.testing.EchoService/Echo", nil)
		req.Host = "grpc.example.com"
		req.Header.Set("Content-Type", "application/grpc")
		resp, err := h2c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "HTTP/2.0 /grpc.testing.EchoService/Echo portico" {
			return fmt.Errorf("gRPC call: %d %q", resp.StatusCode, b)
		}
		return nil
	})
	eventually(t, 20*time.Second, func() error {
		var r gatewayv1.GRPCRoute
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(grpcRoute), &r); err != nil {
			return err
		}
		if len(r.Status.Parents) != 1 {
			return fmt.Errorf("GRPCRoute parents %+v", r.Status.Parents)
		}
		return conditionIs(r.Status.Parents[0].Conditions, "Accepted", metav1.ConditionTrue)
	})

	// Deleting the Gateway closes its listener and removes its Service.
	if err := k8s.Delete(ctx, gw); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(&svc), &svc)
		if err == nil {
			return fmt.Errorf("Gateway Service still exists")
		}
		if _, _, err := get("shop.example.com"); err == nil {
			return fmt.Errorf("listener still accepting")
		}
		return nil
	})
}
