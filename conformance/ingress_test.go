//go:build conformance

package conformance

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	harness "github.com/portico-dev/portico/envtest"
	certs "github.com/portico-dev/portico/tls"
)

// TestIngressConformance ports the behaviours of the kubernetes-sigs
// ingress-controller-conformance suite (default backend, host rules with
// wildcards, IngressClass selection, the path-rule table, TLS) to real
// echo-basic Deployments in the cluster harness, through Portico's own
// LoadBalancer address.
func TestIngressConformance(t *testing.T) {
	ctx := context.Background()
	c, err := harness.StartDevCluster(ctx, harness.DevOptions{Root: "..", DeployPortico: true, Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	cl := c.Client
	ns := "ingress-conformance"
	must(t, cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	for _, name := range []string{"echo-a", "echo-b", "echo-c"} {
		deployEcho(t, cl, ns, name)
	}
	addr := c.LB.Address("portico-system", "portico")
	if addr == "" {
		t.Fatal("Portico's Service has no load balancer address")
	}
	// Redirects are never followed: their host names resolve nowhere here.
	plain := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(host, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		req.Host = host
		return do(t, plain, req)
	}
	expect := func(host, path string, code int, backend string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			got, b := get(host, path)
			if got == code && (backend == "" || b == backend) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s%s: %d from %q, want %d from %q", host, path, got, b, code, backend)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	prefix, exact := networkingv1.PathTypePrefix, networkingv1.PathTypeExact
	ing := func(name, host string, paths ...networkingv1.HTTPIngressPath) *networkingv1.Ingress {
		return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: networkingv1.IngressSpec{IngressClassName: ptr.To("portico"), Rules: []networkingv1.IngressRule{{Host: host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}}}}}}
	}
	path := func(p string, pt networkingv1.PathType, svc string) networkingv1.HTTPIngressPath {
		return networkingv1.HTTPIngressPath{Path: p, PathType: &pt, Backend: networkingv1.IngressBackend{
			Service: &networkingv1.IngressServiceBackend{Name: svc, Port: networkingv1.ServiceBackendPort{Number: 80}}}}
	}

	t.Run("host rules", func(t *testing.T) {
		must(t, cl.Create(ctx, ing("exact-host", "foo.bar.com", path("/", prefix, "echo-a"))))
		must(t, cl.Create(ctx, ing("wildcard-host", "*.foo.com", path("/", prefix, "echo-b"))))
		expect("foo.bar.com", "/", 200, "echo-a")
		expect("bar.foo.com", "/", 200, "echo-b")
		expect("baz.bar.foo.com", "/", 404, "") // a wildcard covers one label
		expect("foo.com", "/", 404, "")
		expect("other.example", "/", 404, "")
	})

	t.Run("path rules", func(t *testing.T) {
		must(t, cl.Create(ctx, ing("paths", "paths.example.com",
			path("/foo", exact, "echo-a"),
			path("/foo", prefix, "echo-b"),
			path("/aaa/bbb", prefix, "echo-c"),
			path("/aaa/bbb/ccc", exact, "echo-a"),
		)))
		for _, tc := range []struct {
			path    string
			code    int
			backend string
		}{
			{"/foo", 200, "echo-a"},      // Exact beats Prefix
			{"/foo/", 200, "echo-b"},     // Prefix matches the trailing slash
			{"/foo/bar", 200, "echo-b"},  // and sub-paths
			{"/foobar", 404, ""},         // but not a longer element
			{"/aaa/bbb", 200, "echo-c"},  //
			{"/aaa/bbb/", 200, "echo-c"}, //
			{"/aaa/bbb/ccc", 200, "echo-a"},
			{"/aaa/bbbxyz", 404, ""},
			{"/aaa", 404, ""},
		} {
			expect("paths.example.com", tc.path, tc.code, tc.backend)
		}
	})

	t.Run("IngressClass selection", func(t *testing.T) {
		must(t, cl.Create(ctx, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "someone-else"},
			Spec: networkingv1.IngressClassSpec{Controller: "example.com/other-controller"}}))
		other := ing("other-class", "other-class.example.com", path("/", prefix, "echo-a"))
		other.Spec.IngressClassName = ptr.To("someone-else")
		must(t, cl.Create(ctx, other))
		mine := ing("my-class", "my-class.example.com", path("/", prefix, "echo-a"))
		must(t, cl.Create(ctx, mine))
		expect("my-class.example.com", "/", 200, "echo-a")
		expect("other-class.example.com", "/", 404, "")
		// Portico writes status only on its own Ingresses.
		var got networkingv1.Ingress
		deadline := time.Now().Add(30 * time.Second)
		for {
			must(t, cl.Get(ctx, client.ObjectKeyFromObject(mine), &got))
			lb := got.Status.LoadBalancer.Ingress
			if len(lb) == 1 && lb[0].IP == addr {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("status.loadBalancer %+v, want %s", lb, addr)
			}
			time.Sleep(250 * time.Millisecond)
		}
		must(t, cl.Get(ctx, client.ObjectKeyFromObject(other), &got))
		if len(got.Status.LoadBalancer.Ingress) != 0 {
			t.Fatalf("status written on another controller's Ingress: %+v", got.Status.LoadBalancer)
		}
	})

	t.Run("TLS", func(t *testing.T) {
		cert, err := certs.SelfSigned("secure.example.com")
		must(t, err)
		crt, key := pemPair(t, cert)
		must(t, cl.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "secure-tls"}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}}))
		secure := ing("secure", "secure.example.com", path("/", prefix, "echo-c"))
		secure.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"secure.example.com"}, SecretName: "secure-tls"}}
		must(t, cl.Create(ctx, secure))
		hc := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			// A new handshake per attempt: a kept-alive connection would keep
			// showing the certificate of its first handshake.
			Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{ServerName: "secure.example.com", InsecureSkipVerify: true}}}
		deadline := time.Now().Add(60 * time.Second)
		for {
			req, _ := http.NewRequest("GET", "https://"+addr+"/", nil)
			req.Host = "secure.example.com"
			resp, err := hc.Do(req)
			last := fmt.Sprint(err)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 && resp.TLS != nil && resp.TLS.PeerCertificates[0].Equal(cert.Leaf) && backendOf(body) == "echo-c" {
					break
				}
				last = fmt.Sprintf("%d from %q with certificate %s: %.200s", resp.StatusCode, backendOf(body),
					resp.TLS.PeerCertificates[0].Subject, body)
			}
			if time.Now().After(deadline) {
				t.Fatalf("HTTPS to secure.example.com never served with its certificate: %s", last)
			}
			time.Sleep(250 * time.Millisecond)
		}
		// Plain HTTP to a TLS host is redirected.
		expect("secure.example.com", "/", http.StatusPermanentRedirect, "")
	})

	t.Run("default backend", func(t *testing.T) {
		def := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "default-backend"},
			Spec: networkingv1.IngressSpec{IngressClassName: ptr.To("portico"), DefaultBackend: &networkingv1.IngressBackend{
				Service: &networkingv1.IngressServiceBackend{Name: "echo-b", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}
		must(t, cl.Create(ctx, def))
		expect("other.example", "/anything", 200, "echo-b")
		expect("paths.example.com", "/aaa", 200, "echo-b") // a host with no matching path
		expect("foo.bar.com", "/", 200, "echo-a")          // rules still win
	})

	t.Run("unknown image stays Pending with an Event", func(t *testing.T) {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "unknown-image"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.com/not-known:1"}}}}
		must(t, cl.Create(ctx, pod))
		deadline := time.Now().Add(30 * time.Second)
		for {
			var evs corev1.EventList
			must(t, cl.List(ctx, &evs, client.InNamespace(ns)))
			found := false
			for _, e := range evs.Items {
				found = found || e.InvolvedObject.Name == "unknown-image" && strings.Contains(e.Message, "image example.com/not-known:1 has no local runner")
			}
			must(t, cl.Get(ctx, client.ObjectKeyFromObject(pod), pod))
			if found && pod.Status.Phase == corev1.PodPending {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("pod phase %s, event found %v", pod.Status.Phase, found)
			}
			time.Sleep(250 * time.Millisecond)
		}
	})
}

// deployEcho runs an echo-basic Deployment with a Service on port 80.
func deployEcho(t *testing.T, cl client.Client, ns, name string) {
	t.Helper()
	labels := map[string]string{"app": name}
	must(t, cl.Create(context.Background(), &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "echo", Image: "registry.k8s.io/gateway-api/echo-basic:v1.5.1",
				Env: []corev1.EnvVar{
					{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
					{Name: "NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
				},
				Ports: []corev1.ContainerPort{{ContainerPort: 3000}},
			}}}}}}))
	must(t, cl.Create(context.Background(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(3000)}}}}))
}

func do(t *testing.T, hc *http.Client, req *http.Request) (int, string) {
	t.Helper()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, backendOf(body)
}

// backendOf names the Deployment whose echo-basic pod answered.
func backendOf(body []byte) string {
	var echo struct {
		Pod string `json:"pod"`
	}
	if json.Unmarshal(body, &echo) != nil || echo.Pod == "" {
		return ""
	}
	parts := strings.Split(echo.Pod, "-")
	if len(parts) < 3 {
		return echo.Pod
	}
	return strings.Join(parts[:len(parts)-2], "-")
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func pemPair(t *testing.T, c *tls.Certificate) ([]byte, []byte) {
	t.Helper()
	key, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	must(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})
}
