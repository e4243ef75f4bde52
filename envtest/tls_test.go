package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
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

	certs "github.com/portico-dev/portico/tls"
)

func tlsSecretData(t *testing.T, host string) (map[string][]byte, *x509.Certificate) {
	t.Helper()
	c, err := certs.SelfSigned(host)
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		corev1.TLSCertKey:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}),
		corev1.TLSPrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}),
	}, c.Leaf
}

// servedCert connects to Portico's HTTPS listener with sni and returns the
// certificate it presents.
func servedCert(sni string) (*x509.Certificate, error) {
	c, err := tls.Dial("tcp", httpsAddr, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

// TestIngressTLSFromSecrets: a Secret's certificate is served for its
// host, rotated without restart, plain HTTP is redirected, and a broken
// Secret falls back to the default certificate with an Event.
func TestIngressTLSFromSecrets(t *testing.T) {
	ctx := context.Background()
	ourClass(t)
	ns := namespace(t, "tls")
	h := backend(t, 3, "secure")
	svc, es := service(ns, "secure", h)
	create(t, svc, es)
	data, leaf := tlsSecretData(t, "secure.example.com")
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "secure-tls"}, Type: corev1.SecretTypeTLS, Data: data}
	ing := ingress(ns, "secure", ptr.To("portico"), "secure.example.com", path{"/", networkingv1.PathTypePrefix, "secure"})
	ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"secure.example.com"}, SecretName: "secure-tls"}}
	create(t, sec, ing)

	eventually(t, 20*time.Second, func() error {
		got, err := servedCert("secure.example.com")
		if err != nil {
			return err
		}
		if !got.Equal(leaf) {
			return fmt.Errorf("served %q, not the Secret's certificate", got.Subject.CommonName)
		}
		return nil
	})
	hc := &http.Client{
		Timeout:       5 * time.Second,
		Transport:     &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{ServerName: "secure.example.com", InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, _ := http.NewRequest("GET", "https://"+httpsAddr+"/x", nil)
	req.Host = "secure.example.com"
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "secure /x" {
		t.Fatalf("HTTPS request: %d %q", resp.StatusCode, body)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("HTTPS request used %s, want HTTP/2 via ALPN", resp.Proto)
	}

	// Plain HTTP to a TLS host is redirected (308) to https.
	req, _ = http.NewRequest("GET", "http://"+proxyAddr+"/x?y=1", nil)
	req.Host = "secure.example.com"
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 308 || resp.Header.Get("Location") != "https://secure.example.com/x?y=1" {
		t.Fatalf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	// Rotation: the new certificate is served from the next handshake on.
	newData, newLeaf := tlsSecretData(t, "secure.example.com")
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(sec), sec); err != nil {
		t.Fatal(err)
	}
	sec.Data = newData
	if err := k8s.Update(ctx, sec); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	eventually(t, 20*time.Second, func() error {
		got, err := servedCert("secure.example.com")
		if err != nil {
			return err
		}
		if !got.Equal(newLeaf) {
			return fmt.Errorf("still serving the old certificate")
		}
		return nil
	})
	t.Logf("rotated certificate served after %v", time.Since(start))

	// A broken Secret: the host falls back to the default certificate and
	// the Ingress gets an Event naming the Secret.
	sec.Data[corev1.TLSPrivateKeyKey] = []byte("not a key")
	if err := k8s.Update(ctx, sec); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		got, err := servedCert("secure.example.com")
		if err != nil {
			return err
		}
		if got.Equal(newLeaf) {
			return fmt.Errorf("broken Secret still served")
		}
		var evs eventsv1.EventList
		if err := k8s.List(ctx, &evs, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.Regarding.Name == "secure" && e.Reason == "InvalidCertificate" && strings.Contains(e.Note, "tls/secure-tls") {
				return nil
			}
		}
		return fmt.Errorf("no InvalidCertificate event")
	})
	// Unknown SNI gets the default certificate, and HTTP still routes.
	if got, err := servedCert("unknown.example.com"); err != nil || got.Equal(newLeaf) {
		t.Fatalf("unknown SNI: %v", err)
	}
}

// TestIngressPassthrough: connections whose SNI names a passthrough Ingress
// reach the backend's own TLS server, unterminated.
func TestIngressPassthrough(t *testing.T) {
	ourClass(t)
	ns := namespace(t, "passthrough")
	h, ln := hostListener(t, 4)
	cert, err := certs.SelfSigned("pass.example.com")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "backend terminated TLS for %s", r.TLS.ServerName)
	})}
	go srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*cert}}))
	t.Cleanup(func() { srv.Close() })
	svc, es := service(ns, "tls-app", h)
	ing := ingress(ns, "pass", ptr.To("portico"), "pass.example.com", path{"/", networkingv1.PathTypePrefix, "tls-app"})
	ing.Annotations = map[string]string{"portico.dev/ssl-passthrough": "true"}
	create(t, svc, es, ing)

	eventually(t, 20*time.Second, func() error {
		got, err := servedCert("pass.example.com")
		if err != nil {
			return err
		}
		if !got.Equal(cert.Leaf) {
			return fmt.Errorf("served %q, not the backend's certificate", got.Subject.CommonName)
		}
		return nil
	})
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{ServerName: "pass.example.com", InsecureSkipVerify: true}}}
	resp, err := hc.Get("https://" + httpsAddr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "backend terminated TLS for pass.example.com" {
		t.Fatalf("passthrough: %q", body)
	}
}
