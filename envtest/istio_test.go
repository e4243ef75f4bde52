package harness

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/portico-dev/portico/standalone"
	certs "github.com/portico-dev/portico/tls"
)

// TestIstioSeed installs the Istio CRDs after Portico started, applies the
// Istio objects of seed document 004 verbatim, and sends real traffic
// through Portico to backends in network namespaces: the HTTP host route
// on port 80, the PASSTHROUGH route by SNI on 443, and the TCP route on
// 21000, whose port Portico adds to its own Service.
func TestIstioSeed(t *testing.T) {
	ctx := context.Background()
	installIstioCRDs(t)

	// Portico's own Service, as manifests/base has it.
	own := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "portico-system", Name: "portico"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)},
			{Name: "https", Port: 443, TargetPort: intstr.FromInt32(8443)}}}}
	create(t, own)
	// The manifests test applies its own Service of that name.
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), own) })

	kratos := backend(t, 10, "kratos")
	cert, err := certs.SelfSigned("es.dc.product")
	if err != nil {
		t.Fatal(err)
	}
	esHost, esLn := hostListener(t, 11)
	esSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "es terminated for %s", r.TLS.ServerName)
	}), TLSConfig: &tls.Config{Certificates: []tls.Certificate{*cert}}}
	go esSrv.ServeTLS(esLn, "", "")
	t.Cleanup(func() { esSrv.Close() })
	dcHost, dcLn := hostListener(t, 12)
	go func() {
		for {
			c, err := dcLn.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()

	svcK, esK := service("default", "test-kratos-service", kratos)
	svcES := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "es-dc-product-es-http"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "https", Port: 9200, TargetPort: intstr.FromInt32(8080)}}}}
	sliceES := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "es-1",
		Labels: map[string]string{discoveryv1.LabelServiceName: "es-dc-product-es-http"}}, AddressType: discoveryv1.AddressTypeIPv4,
		Ports:     []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To[int32](8080)}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{esHost.IP}}}}
	sliceDC := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "data-center-1",
		Labels: map[string]string{discoveryv1.LabelServiceName: "data-center-service"}}, AddressType: discoveryv1.AddressTypeIPv4,
		Ports:     []discoveryv1.EndpointPort{{Name: ptr.To("grpc-21000"), Port: ptr.To[int32](8080)}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{dcHost.IP}}}}
	create(t, svcK, esK, svcES, sliceES, sliceDC)

	// The seed, verbatim: its Service, three Gateways, three VirtualServices.
	data, err := os.ReadFile("../examples/istio/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, _, err := standalone.Parse("seed.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		obj := o.(client.Object)
		if obj.GetNamespace() == "" {
			obj.SetNamespace("default")
		}
		eventually(t, 30*time.Second, func() error { return k8s.Create(ctx, obj) })
	}

	// Port 21000 is added to Portico's Service and served.
	var tcpAddr string
	eventually(t, 40*time.Second, func() error {
		var svc corev1.Service
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(own), &svc); err != nil {
			return err
		}
		for _, p := range svc.Spec.Ports {
			if p.Name == "istio-21000" && p.Port == 21000 {
				v, ok := gatewayBound.Load("Istio:21000")
				if !ok {
					return fmt.Errorf("Istio:21000 not bound")
				}
				if v.(string) != fmt.Sprintf("127.0.0.1:%d", p.TargetPort.IntVal) {
					return fmt.Errorf("bound %s, Service targets %d", v, p.TargetPort.IntVal)
				}
				tcpAddr = v.(string)
				return nil
			}
		}
		return fmt.Errorf("Service ports %+v", svc.Spec.Ports)
	})
	eventually(t, 20*time.Second, func() error {
		conn, err := net.DialTimeout("tcp", tcpAddr, 2*time.Second)
		if err != nil {
			return err
		}
		defer conn.Close()
		fmt.Fprint(conn, "grpc bytes")
		conn.(*net.TCPConn).CloseWrite()
		got, _ := io.ReadAll(conn)
		if string(got) != "grpc bytes" {
			return fmt.Errorf("TCP route: %q", got)
		}
		return nil
	})
	// Port 80 and 443 are Portico's own listeners.
	expect(t, "test-kratos.private.aminer.cn", "/api", 200, "kratos /api")
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{ServerName: "es.dc.product", InsecureSkipVerify: true}}}
	eventually(t, 20*time.Second, func() error {
		resp, err := c.Get("https://" + httpsAddr + "/")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "es terminated for es.dc.product" {
			return fmt.Errorf("PASSTHROUGH route: %q", b)
		}
		return nil
	})
	// Each object gets Portico's condition.
	eventually(t, 20*time.Second, func() error {
		var vs istiov1.VirtualService
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: "default", Name: "es-vservice"}, &vs); err != nil {
			return err
		}
		for _, c := range vs.Status.GetConditions() {
			if c.GetType() == "portico.dev/Reconciled" && c.GetStatus() == "True" {
				return nil
			}
		}
		return fmt.Errorf("conditions %v", vs.Status.GetConditions())
	})

	// Without the TCP Gateway, its port leaves Portico's Service and the
	// listener closes; the other ports stay.
	tcpGW := &istiov1.Gateway{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: "default", Name: "data-center-grpc-gateway"}, tcpGW); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(ctx, tcpGW); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		var svc corev1.Service
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(own), &svc); err != nil {
			return err
		}
		if len(svc.Spec.Ports) != 2 || svc.Spec.Ports[0].Name != "http" || svc.Spec.Ports[1].Name != "https" {
			return fmt.Errorf("Service ports %+v", svc.Spec.Ports)
		}
		if c, err := net.DialTimeout("tcp", tcpAddr, time.Second); err == nil {
			c.Close()
			return fmt.Errorf("%s still accepts connections", tcpAddr)
		}
		return nil
	})
	expect(t, "test-kratos.private.aminer.cn", "/api", 200, "kratos /api")
}

// installIstioCRDs creates the CRDs of manifests/istio and waits until
// they are served.
func installIstioCRDs(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile("../manifests/istio/crds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal([]byte(doc), &crd); err != nil {
			t.Fatal(err)
		}
		if err := k8s.Create(context.Background(), &crd); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("creating CRD %s: %v", crd.Name, err)
		}
	}
	eventually(t, 30*time.Second, func() error {
		return k8s.List(context.Background(), &istiov1.GatewayList{})
	})
}

// TestIstioSubsets routes to DestinationRule subsets, choosing endpoints
// by the labels of the Pods behind the EndpointSlice.
func TestIstioSubsets(t *testing.T) {
	ctx := context.Background()
	installIstioCRDs(t)
	ns := namespace(t, "istio-subsets")
	v1, v2 := backend(t, 13, "reviews-v1"), backend(t, 14, "reviews-v2")
	svc, slice := service(ns, "reviews", v1, v2)
	for i, name := range []string{"reviews-v1", "reviews-v2"} {
		slice.Endpoints[i].TargetRef = &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: name}
		version := strings.TrimPrefix(name, "reviews-")
		create(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"version": version}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "reviews:" + version}}}})
	}
	create(t, svc, slice)
	objs := fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: %[1]s}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: %[1]s}
spec:
  hosts: [reviews.example.com]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /beta}}]
    route: [{destination: {host: reviews, port: {number: 80}, subset: v2}}]
  - route: [{destination: {host: reviews, port: {number: 80}, subset: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: partial, namespace: %[1]s}
spec:
  hosts: [partial.example.com]
  gateways: [gw]
  exportTo: ["."]
  http:
  - route: [{destination: {host: reviews, port: {number: 80}, subset: v3}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: %[1]s}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`, ns)
	parsed, _, err := standalone.Parse("subsets.yaml", []byte(objs))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range parsed {
		obj := o.(client.Object)
		eventually(t, 30*time.Second, func() error { return k8s.Create(ctx, obj) })
	}
	for range 3 {
		expect(t, "reviews.example.com", "/", 200, "reviews-v1 /")
		expect(t, "reviews.example.com", "/beta/x", 200, "reviews-v2 /beta/x")
	}
	eventually(t, 20*time.Second, func() error {
		var dr istiov1.DestinationRule
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "reviews"}, &dr); err != nil {
			return err
		}
		for _, c := range dr.Status.GetConditions() {
			if c.GetType() == "portico.dev/Reconciled" && c.GetStatus() == "True" {
				return nil
			}
		}
		return fmt.Errorf("conditions %v", dr.Status.GetConditions())
	})
	// What is not served is said on the object and in Events.
	expect(t, "partial.example.com", "/", 503, "")
	eventually(t, 20*time.Second, func() error {
		var vs istiov1.VirtualService
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "partial"}, &vs); err != nil {
			return err
		}
		for _, c := range vs.Status.GetConditions() {
			if c.GetType() == "portico.dev/Reconciled" && c.GetStatus() == "False" &&
				strings.Contains(c.GetMessage(), "spec.exportTo") && strings.Contains(c.GetMessage(), `subset "v3"`) {
				return nil
			}
		}
		return fmt.Errorf("conditions %v", vs.Status.GetConditions())
	})
	eventually(t, 20*time.Second, func() error {
		var evs eventsv1.EventList
		if err := k8s.List(ctx, &evs, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.Regarding.Name == "partial" && e.Regarding.Kind == "VirtualService" && e.Reason == "UnsupportedField" &&
				strings.Contains(e.Note, "spec.exportTo") {
				return nil
			}
		}
		return fmt.Errorf("no UnsupportedField event for VirtualService partial among %d events", len(evs.Items))
	})
}
