package harness

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/portico-dev/portico/controllers"
	"github.com/portico-dev/portico/controllers/translate"
)

const nginxPublishedIP = "203.0.113.15" // written into status only

// TestIngressNginxCompat runs a second controller with
// --ingress-nginx-compat and --ingress-nginx-configmap on the real API
// server: an Ingress of ingress-nginx's class (by IngressClass and by the
// legacy annotation) is served, its status written, the ConfigMap's HSTS
// settings applied and changed live, and annotations Portico does not
// honour reported as Warning Events.
func TestIngressNginxCompat(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ns := namespace(t, "nginx-compat")
	cmKey := client.ObjectKey{Namespace: ns, Name: "ingress-nginx-controller"}
	httpAddr, httpsAddr := startNginxController(t, ctx, cmKey.String())
	t.Cleanup(cancel)

	cls := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nginx-compat-e2e"},
		Spec: networkingv1.IngressClassSpec{Controller: translate.NginxControllerName}}
	create(t, cls)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), cls) })
	h := backend(t, 46, "nginx-app")
	svc, es := service(ns, "app", h)
	data, _ := tlsSecretData(t, "secure.nginx.example")
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "secure-tls"}, Type: corev1.SecretTypeTLS, Data: data}
	ing := ingress(ns, "shop", ptr.To(cls.Name), "secure.nginx.example", path{"/", networkingv1.PathTypePrefix, "app"})
	ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"secure.nginx.example"}, SecretName: "secure-tls"}}
	ing.Annotations = map[string]string{translate.NginxAnnotationPrefix + "made-up-annotation": "1"}
	legacy := ingress(ns, "legacy", nil, "legacy.nginx.example", path{"/", networkingv1.PathTypePrefix, "app"})
	legacy.Annotations = map[string]string{"kubernetes.io/ingress.class": "nginx"}
	// A snippet is never executed (refused, or at least reported).
	snippet := ingress(ns, "snippet", ptr.To(cls.Name), "snippet.nginx.example", path{"/", networkingv1.PathTypePrefix, "app"})
	snippet.Annotations = map[string]string{translate.NginxAnnotationPrefix + "configuration-snippet": "more_set_headers \"X-Frame-Options: DENY\";"}
	create(t, svc, es, secret, ing, legacy, snippet)

	get := func(scheme, addr, host string) (*http.Response, string, error) {
		hc := &http.Client{Timeout: 5 * time.Second,
			Transport:     &http.Transport{TLSClientConfig: &tls.Config{ServerName: host, InsecureSkipVerify: true}},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		req, _ := http.NewRequest("GET", scheme+"://"+addr+"/x", nil)
		req.Host = host
		resp, err := hc.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, string(b), err
	}
	hsts := func(want string) func() error {
		return func() error {
			resp, body, err := get("https", httpsAddr, "secure.nginx.example")
			if err != nil {
				return err
			}
			if resp.StatusCode != 200 || body != "nginx-app /x" || resp.Header.Get("Strict-Transport-Security") != want {
				return fmt.Errorf("HTTPS: %d %q HSTS %q, want 200 with HSTS %q", resp.StatusCode, body,
					resp.Header.Get("Strict-Transport-Security"), want)
			}
			return nil
		}
	}

	t.Run("served by class and legacy annotation, with status", func(t *testing.T) {
		eventually(t, 30*time.Second, func() error {
			resp, body, err := get("http", httpAddr, "legacy.nginx.example")
			if err != nil {
				return err
			}
			if resp.StatusCode != 200 || body != "nginx-app /x" {
				return fmt.Errorf("legacy: %d %q", resp.StatusCode, body)
			}
			return nil
		})
		for _, o := range []*networkingv1.Ingress{ing, legacy} {
			eventually(t, 20*time.Second, func() error {
				var got networkingv1.Ingress
				if err := k8s.Get(ctx, client.ObjectKeyFromObject(o), &got); err != nil {
					return err
				}
				if lb := got.Status.LoadBalancer.Ingress; len(lb) != 1 || lb[0].IP != nginxPublishedIP {
					return fmt.Errorf("%s: status.loadBalancer.ingress = %+v", o.Name, lb)
				}
				return nil
			})
		}
	})

	t.Run("missing ConfigMap: ingress-nginx's HSTS default", func(t *testing.T) {
		eventually(t, 20*time.Second, hsts("max-age=31536000; includeSubDomains"))
		nginxEvent(t, ctx, "", cls.Name, "ConfigMapNotFound", cmKey.String())
	})

	t.Run("ConfigMap created and changed: applied live", func(t *testing.T) {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: cmKey.Name},
			Data: map[string]string{"hsts-max-age": "600", "hsts-include-subdomains": "false", "use-proxy-protocol": "true"}}
		create(t, cm)
		eventually(t, 20*time.Second, hsts("max-age=600"))
		cm.Data = map[string]string{"hsts": "false"}
		if err := k8s.Update(ctx, cm); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, hsts(""))
		nginxEvent(t, ctx, ns, cmKey.Name, "UnsupportedConfigKey", "use-proxy-protocol")
	})

	t.Run("annotations not honoured are Warning Events", func(t *testing.T) {
		nginxEvent(t, ctx, ns, "shop", "", "made-up-annotation")
		nginxEvent(t, ctx, ns, "snippet", "", "configuration-snippet")
	})
}

// nginxEvent waits for a Warning Event regarding the object name (in ns,
// "" for cluster-scoped ones) whose reason is reason (any when "") and
// whose note mentions what.
func nginxEvent(t *testing.T, ctx context.Context, ns, name, reason, what string) {
	t.Helper()
	eventually(t, 20*time.Second, func() error {
		var evs eventsv1.EventList
		var opts []client.ListOption
		if ns != "" {
			opts = append(opts, client.InNamespace(ns))
		}
		if err := k8s.List(ctx, &evs, opts...); err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.Regarding.Name == name && e.Type == corev1.EventTypeWarning && (reason == "" || e.Reason == reason) &&
				strings.Contains(e.Note, what) {
				return nil
			}
		}
		return fmt.Errorf("no Warning Event %q on %s mentioning %q among %d", reason, name, what, len(evs.Items))
	})
}

// startNginxController runs a controller with ingress-nginx compatibility
// until ctx ends, and returns its HTTP and HTTPS addresses.
func startNginxController(t *testing.T, ctx context.Context, configMap string) (string, string) {
	t.Helper()
	addrs := make(chan string, 2)
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := controllers.Run(ctx, cp.Config, controllers.Options{
			Translate: translate.Options{ControllerName: "portico.dev/ingress-controller", IngressClass: "portico",
				Nginx: &translate.NginxOptions{}},
			NginxConfigMap: configMap,
			Publish:        controllers.Publish{Addresses: []string{nginxPublishedIP}},
			HTTPAddr:       "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", MetricsAddr: "0", HealthAddr: "0",
			OnListening: func(name string, a net.Addr) {
				if name == "http" || name == "https" {
					addrs <- name + "=" + a.String()
				}
			},
		})
		if err != nil && ctx.Err() == nil {
			t.Errorf("nginx-compat controller: %v", err)
		}
	}()
	t.Cleanup(func() { <-done })
	var httpAddr, httpsAddr string
	for range 2 {
		select {
		case a := <-addrs:
			if name, addr, _ := strings.Cut(a, "="); name == "http" {
				httpAddr = addr
			} else {
				httpsAddr = addr
			}
		case <-time.After(60 * time.Second):
			t.Fatal("the nginx-compat controller did not open its listeners")
		}
	}
	return httpAddr, httpsAddr
}
