package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/portico-dev/portico/controllers"
	"github.com/portico-dev/portico/controllers/translate"
)

// TestACMEWithPebble runs two controller instances sharing ACME storage in
// Secrets against Pebble, which validates challenges against the first
// instance's real listeners. The certificate is issued once, served by
// both, and renewed before its 40-second lifetime ends.
func TestACMEWithPebble(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ourClass(t)
	storageNS := namespace(t, "acme-storage")
	ns := namespace(t, "acme")
	httpPort, httpsPort := FreePort(), FreePort()
	pebble, err := StartPebble(PebbleOptions{HTTPPort: httpPort, TLSPort: httpsPort, ShortLived: 40})
	if err != nil {
		t.Fatal(err)
	}
	defer pebble.Stop()

	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	start := func(name, httpAddr, httpsAddr string) {
		addrs := make(chan struct{}, 2)
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := controllers.Run(ctx, cp.Config, controllers.Options{
				Translate: translate.Options{ControllerName: "portico.dev/ingress-controller", IngressClass: "portico"},
				HTTPAddr:  httpAddr, HTTPSAddr: httpsAddr, MetricsAddr: "0", HealthAddr: "0",
				ACME: controllers.ACMEOptions{CA: pebble.Directory, Email: "ops@example.test", CARootsFile: pebble.RootsFile,
					Namespace: storageNS, Profile: "shortlived", RenewCheckInterval: time.Second, DisableARI: true},
				OnListening: func(string, net.Addr) { addrs <- struct{}{} },
			})
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}()
		for range 2 {
			select {
			case <-addrs:
			case <-time.After(30 * time.Second):
				t.Fatalf("%s did not start", name)
			}
		}
	}
	httpsA := fmt.Sprintf("127.0.0.1:%d", httpsPort)
	httpsB := fmt.Sprintf("127.0.0.1:%d", FreePort())
	start("instance A", fmt.Sprintf("127.0.0.1:%d", httpPort), httpsA)
	start("instance B", fmt.Sprintf("127.0.0.1:%d", FreePort()), httpsB)

	t.Logf("instance A http %d https %d; pebble %s", httpPort, httpsPort, pebble.Directory)
	if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", httpPort)); err != nil {
		t.Fatalf("instance A's HTTP port: %v", err)
	} else {
		c.Close()
	}
	h := backend(t, 5, "acme-app")
	svc, es := service(ns, "app", h)
	ing := ingress(ns, "site", ptr.To("portico"), "acme.example.test", path{"/", networkingv1.PathTypePrefix, "app"})
	ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"acme.example.test"}}}
	create(t, svc, es, ing)

	served := func(addr string) (*x509.Certificate, error) {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
			&tls.Config{ServerName: "acme.example.test", InsecureSkipVerify: true})
		if err != nil {
			return nil, err
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0], nil
	}
	issued := func(addr string) (*x509.Certificate, error) {
		leaf, err := served(addr)
		if err != nil {
			return nil, err
		}
		if !strings.Contains(leaf.Issuer.CommonName, "Pebble") || len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "acme.example.test" {
			return nil, fmt.Errorf("serving %v issued by %q, not Pebble's certificate yet", leaf.DNSNames, leaf.Issuer.CommonName)
		}
		return leaf, nil
	}
	var first *x509.Certificate
	eventuallyLog(t, 90*time.Second, pebble, func() error {
		var err error
		first, err = issued(httpsA)
		return err
	})
	t.Logf("issued: serial %s, valid %s", first.SerialNumber, first.NotAfter.Sub(first.NotBefore))
	eventuallyLog(t, 30*time.Second, pebble, func() error {
		leaf, err := issued(httpsB)
		if err != nil {
			return err
		}
		if !leaf.Equal(first) {
			return fmt.Errorf("instance B serves another certificate (ordered twice?)")
		}
		return nil
	})

	// Renewal: a new certificate replaces the short-lived one in time.
	eventuallyLog(t, 60*time.Second, pebble, func() error {
		leaf, err := issued(httpsA)
		if err != nil {
			return err
		}
		if leaf.SerialNumber.Cmp(first.SerialNumber) == 0 {
			return fmt.Errorf("still serving the first certificate (expires %s)", first.NotAfter)
		}
		return nil
	})

	// Exactly one order for the first certificate across both instances.
	var evs eventsv1.EventList
	if err := k8s.List(ctx, &evs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	issuedEvents, renewed := 0, 0
	for _, e := range evs.Items {
		if e.Regarding.Name != "site" {
			continue
		}
		n := 1
		if e.Series != nil {
			n = int(e.Series.Count)
		}
		switch e.Reason {
		case "CertificateIssued":
			issuedEvents += n
		case "CertificateRenewed":
			renewed += n
		}
	}
	if issuedEvents != 1 || renewed < 1 {
		t.Fatalf("CertificateIssued events %d (want 1: one order across two instances), CertificateRenewed %d (want ≥1)", issuedEvents, renewed)
	}
}

func eventuallyLog(t *testing.T, timeout time.Duration, p *Pebble, f func() error) {
	t.Helper()
	if err := poll(timeout, f); err != nil {
		t.Fatalf("condition not met within %s: %v\npebble log:\n%s", timeout, err, tail(p.Log(), 40))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
