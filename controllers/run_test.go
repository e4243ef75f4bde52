package controllers_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/portico-dev/portico/controllers"
	"github.com/portico-dev/portico/controllers/translate"
	harness "github.com/portico-dev/portico/envtest"
)

var (
	cp  *harness.ControlPlane
	k8s client.Client
)

func TestMain(m *testing.M) {
	var err error
	cp, err = harness.StartControlPlane()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	k8s, err = client.New(cp.Config, client.Options{Scheme: scheme.Scheme})
	code := 1
	if err == nil {
		code = m.Run()
	} else {
		fmt.Fprintln(os.Stderr, err)
	}
	_ = cp.Stop()
	os.Exit(code)
}

func eventually(t *testing.T, f func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mustCreate(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k8s.Create(context.Background(), o); err != nil {
			t.Fatalf("creating %s: %v", o.GetName(), err)
		}
	}
}

func simpleIngress(ns, name string) *networkingv1.Ingress {
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: networkingv1.IngressSpec{IngressClassName: ptr.To("portico"), Rules: []networkingv1.IngressRule{{
			Host: name + ".example.com",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
					Name: "svc", Port: networkingv1.ServiceBackendPort{Number: 80}}},
			}}}},
		}}},
	}
}

// TestWatchNamespaceAndPublishService runs a controller limited to one
// namespace and publishing a Service's addresses: node addresses while the
// Service is NodePort, its load balancer's once it is a LoadBalancer.
func TestWatchNamespaceAndPublishService(t *testing.T) {
	ctx := context.Background()
	for _, ns := range []string{"watched", "unwatched", "portico-system"} {
		mustCreate(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	mustCreate(t, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "portico"},
		Spec: networkingv1.IngressClassSpec{Controller: "portico.dev/ingress-controller"}})
	for i, addrs := range [][]corev1.NodeAddress{
		{{Type: corev1.NodeInternalIP, Address: "192.0.2.2"}, {Type: corev1.NodeExternalIP, Address: "198.51.100.2"}},
		{{Type: corev1.NodeInternalIP, Address: "192.0.2.1"}},
	} {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node-%d", i)}}
		mustCreate(t, node)
		node.Status.Addresses = addrs
		if err := k8s.Status().Update(ctx, node); err != nil {
			t.Fatal(err)
		}
	}
	pub := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "portico-system", Name: "portico"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	}
	mustCreate(t, pub,
		simpleIngress("watched", "in"), simpleIngress("unwatched", "out"),
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "watched", Name: "svc"},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}})

	runCtx, cancel := context.WithCancel(ctx)
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- controllers.Run(runCtx, cp.Config, controllers.Options{
			Translate:      translate.Options{ControllerName: "portico.dev/ingress-controller", IngressClass: "portico"},
			WatchNamespace: "watched",
			Publish:        controllers.Publish{Service: "portico-system/portico"},
			HTTPAddr:       "127.0.0.1:0",
			MetricsAddr:    "0",
			HealthAddr:     "0",
			OnListening:    func(_ string, a net.Addr) { addr <- a },
		})
	}()
	proxy := (<-addr).String()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	status := func(ns, name string) ([]networkingv1.IngressLoadBalancerIngress, error) {
		var ing networkingv1.Ingress
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &ing)
		return ing.Status.LoadBalancer.Ingress, err
	}
	eventually(t, func() error {
		lb, err := status("watched", "in")
		if err != nil {
			return err
		}
		if len(lb) != 2 || lb[0].IP != "192.0.2.1" || lb[1].IP != "198.51.100.2" {
			return fmt.Errorf("NodePort status = %+v, want node addresses (external preferred)", lb)
		}
		return nil
	})
	get := func(host string) int {
		req, _ := http.NewRequest("GET", "http://"+proxy+"/", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// The watched Ingress is routed (503: its Service has no endpoints);
	// the unwatched one is not routed and gets no status.
	if c := get("in.example.com"); c != 503 {
		t.Fatalf("watched Ingress: %d, want 503", c)
	}
	if c := get("out.example.com"); c != 404 {
		t.Fatalf("unwatched Ingress: %d, want 404", c)
	}
	if lb, _ := status("unwatched", "out"); len(lb) != 0 {
		t.Fatalf("unwatched Ingress got status %+v", lb)
	}

	// A node's address changes: the status follows.
	var node corev1.Node
	if err := k8s.Get(ctx, client.ObjectKey{Name: "node-1"}, &node); err != nil {
		t.Fatal(err)
	}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.0.2.9"}}
	if err := k8s.Status().Update(ctx, &node); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		lb, err := status("watched", "in")
		if err != nil {
			return err
		}
		if len(lb) != 2 || lb[0].IP != "192.0.2.9" {
			return fmt.Errorf("status after node address change = %+v", lb)
		}
		return nil
	})

	// The Service becomes a LoadBalancer and gets an address.
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(pub), pub); err != nil {
		t.Fatal(err)
	}
	pub.Spec.Type = corev1.ServiceTypeLoadBalancer
	if err := k8s.Update(ctx, pub); err != nil {
		t.Fatal(err)
	}
	pub.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.7"}, {Hostname: "lb.example.net"}}
	if err := k8s.Status().Update(ctx, pub); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		lb, err := status("watched", "in")
		if err != nil {
			return err
		}
		if len(lb) != 2 || lb[0].IP != "203.0.113.7" || lb[1].Hostname != "lb.example.net" {
			return fmt.Errorf("LoadBalancer status = %+v", lb)
		}
		return nil
	})
}
