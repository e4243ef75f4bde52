package harness

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// TestSecretRotationUnderLoad rotates an Ingress's TLS Secret 20 times
// while clients make a new TLS connection per request: no handshake and no
// request fails, and the last certificate is the one served.
func TestSecretRotationUnderLoad(t *testing.T) {
	ctx := context.Background()
	ourClass(t)
	ns := namespace(t, "rotate")
	h := backend(t, 43, "rot")
	svc, es := service(ns, "rot", h)
	data, _ := tlsSecretData(t, "rotate.test")
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "rot-tls"}, Type: corev1.SecretTypeTLS, Data: data}
	ing := ingress(ns, "rot", ptr.To("portico"), "rotate.test", path{"/", networkingv1.PathTypePrefix, "rot"})
	ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"rotate.test"}, SecretName: "rot-tls"}}
	create(t, svc, es, sec, ing)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{ServerName: "rotate.test", InsecureSkipVerify: true}}} //nolint:gosec // the test checks rotation, not trust
	call := func() error {
		req, _ := http.NewRequest("GET", "https://"+httpsAddr+"/", nil)
		req.Host = "rotate.test"
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return fmt.Errorf("%d %q", resp.StatusCode, b)
		}
		return nil
	}
	eventually(t, 20*time.Second, call)

	var sent, failed atomic.Int64
	var first atomic.Value
	stop, done := make(chan struct{}), make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				sent.Add(1)
				if err := call(); err != nil {
					failed.Add(1)
					first.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	var last []byte
	for i := range 20 {
		data, leaf := tlsSecretData(t, "rotate.test")
		last = leaf.Raw
		sec.Data = data
		if err := k8s.Update(ctx, sec); err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	eventually(t, 10*time.Second, func() error {
		c, err := servedCert("rotate.test")
		if err != nil {
			return err
		}
		if string(c.Raw) != string(last) {
			return fmt.Errorf("the last rotated certificate is not served yet")
		}
		return nil
	})
	close(stop)
	for range 4 {
		<-done
	}
	t.Logf("20 rotations under load: %d requests, each on a new TLS connection, %d failed", sent.Load(), failed.Load())
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed during rotation; first: %v", failed.Load(), sent.Load(), first.Load())
	}
}

// TestReferenceGrantRevoked: a route's cross-namespace backend stops
// receiving traffic within 5 s of its ReferenceGrant being deleted.
func TestReferenceGrantRevoked(t *testing.T) {
	ctx := context.Background()
	routes, backends := namespace(t, "grant-routes"), namespace(t, "grant-backends")
	h := backend(t, 44, "granted")
	svc, es := service(backends, "granted", h)
	class := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "portico-grant"},
		Spec: gatewayv1.GatewayClassSpec{ControllerName: "portico.dev/gateway-controller"}}
	gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: routes, Name: "web"},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: "portico-grant",
			Listeners: []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}}}}
	route := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: routes, Name: "cross"},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "web"}}},
			Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
				BackendObjectReference: gatewayv1.BackendObjectReference{Name: "granted",
					Namespace: ptr.To(gatewayv1.Namespace(backends)), Port: ptr.To(gatewayv1.PortNumber(80))}}}}}},
		}}
	grant := &gatewayv1.ReferenceGrant{ObjectMeta: metav1.ObjectMeta{Namespace: backends, Name: "allow-routes"},
		Spec: gatewayv1.ReferenceGrantSpec{
			From: []gatewayv1.ReferenceGrantFrom{{Group: gatewayv1.GroupName, Kind: "HTTPRoute", Namespace: gatewayv1.Namespace(routes)}},
			To:   []gatewayv1.ReferenceGrantTo{{Group: "", Kind: "Service"}},
		}}
	create(t, svc, es, class, gw, route, grant)
	addr := boundAddr(t, fmt.Sprintf("Gateway/%s/web:80", routes))
	eventually(t, 20*time.Second, func() error {
		if c, b, err := get(addr, "any.test"); err != nil || c != 200 {
			return fmt.Errorf("granted backend: %d %q %w", c, b, err)
		}
		return nil
	})
	if err := k8s.Delete(ctx, grant); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	eventually(t, 10*time.Second, func() error {
		if c, _, err := get(addr, "any.test"); err != nil || c == 200 {
			return fmt.Errorf("still served: %d %w", c, err)
		}
		return nil
	})
	took := time.Since(revoked)
	t.Logf("ReferenceGrant deleted: access gone after %s", took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Fatalf("access lasted %s after the grant was revoked, want at most 5s", took)
	}
}
