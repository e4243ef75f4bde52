package harness

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// hostListener creates test host n, removed when the test ends, and a
// listener on its port 8080.
func hostListener(t *testing.T, n int) (*Host, net.Listener) {
	t.Helper()
	h, err := NewHost(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	ln, err := h.Listen(8080)
	if err != nil {
		t.Fatal(err)
	}
	return h, ln
}

// backend runs an HTTP server named name inside test host n, on port 8080,
// answering "name path" to every request.
func backend(t *testing.T, n int, name string) *Host {
	t.Helper()
	h, ln := hostListener(t, n)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", name, r.URL.Path)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return h
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k8s.Create(context.Background(), o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
}

func namespace(t *testing.T, name string) string {
	t.Helper()
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	return name
}

// service makes a Service with one named port 80 -> targetPort "http", and
// an EndpointSlice listing the hosts' addresses on port 8080.
func service(ns, name string, hosts ...*Host) (*corev1.Service, *discoveryv1.EndpointSlice) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{
			Name: "web", Port: 80, TargetPort: intstr.FromString("http"),
		}}},
	}
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-1",
			Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("web"), Port: ptr.To[int32](8080)}},
	}
	for _, h := range hosts {
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{
			Addresses: []string{h.IP}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	return svc, es
}

type path struct {
	path    string
	kind    networkingv1.PathType
	service string
}

func ingress(ns, name string, class *string, host string, paths ...path) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       networkingv1.IngressSpec{IngressClassName: class},
	}
	rule := networkingv1.IngressRule{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{}}}
	for _, p := range paths {
		rule.HTTP.Paths = append(rule.HTTP.Paths, networkingv1.HTTPIngressPath{
			Path: p.path, PathType: ptr.To(p.kind),
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
				Name: p.service, Port: networkingv1.ServiceBackendPort{Name: "web"}}},
		})
	}
	ing.Spec.Rules = []networkingv1.IngressRule{rule}
	return ing
}

// fetch sends GET http://host/path through Portico's HTTP listener and
// returns the status code and body.
func fetch(host, path string) (int, string, error) {
	req, err := http.NewRequest("GET", "http://"+proxyAddr+path, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// expect waits until host+path answers code with body.
func expect(t *testing.T, host, path string, code int, body string) {
	t.Helper()
	eventually(t, 20e9, func() error {
		c, b, err := fetch(host, path)
		if err != nil {
			return err
		}
		if c != code || (body != "" && b != body) {
			return fmt.Errorf("GET %s%s: %d %q, want %d %q", host, path, c, b, code, body)
		}
		return nil
	})
}

// boundAddr waits until Portico binds the Gateway listener key and returns
// its address.
func boundAddr(t *testing.T, key string) string {
	t.Helper()
	var addr string
	eventually(t, 20*time.Second, func() error {
		v, ok := gatewayBound.Load(key)
		if !ok {
			return fmt.Errorf("listener %s not bound", key)
		}
		addr = v.(string)
		return nil
	})
	return addr
}
