package harness

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/portico-dev/portico/controllers"
	"github.com/portico-dev/portico/controllers/translate"
)

// apiLink is a TCP forwarder between a Portico replica and the API server
// that a test can cut (every connection closed, new ones refused) and
// restore, as an outage or a network partition would.
type apiLink struct {
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func newAPILink(t *testing.T) *apiLink {
	t.Helper()
	l := &apiLink{target: apiHostPort(), conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.addr = ln.Addr().String()
	l.serve(ln)
	t.Cleanup(l.cut)
	return l
}

func (l *apiLink) serve(ln net.Listener) {
	l.mu.Lock()
	l.ln = ln
	l.mu.Unlock()
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", l.target)
			if err != nil {
				in.Close()
				continue
			}
			l.mu.Lock()
			l.conns[in], l.conns[out] = true, true
			l.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
}

// cut closes the listener and every connection.
func (l *apiLink) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		l.ln.Close()
		l.ln = nil
	}
	for c := range l.conns {
		c.Close()
	}
	l.conns = map[net.Conn]bool{}
}

// restore listens again on the same address.
func (l *apiLink) restore(t *testing.T) {
	t.Helper()
	var ln net.Listener
	eventually(t, 10*time.Second, func() (err error) {
		ln, err = net.Listen("tcp", l.addr)
		return err
	})
	l.serve(ln)
}

// config is the control plane's rest.Config reaching it through the link.
func (l *apiLink) config() *rest.Config {
	cfg := rest.CopyConfig(cp.Config)
	cfg.Host = strings.Replace(cfg.Host, apiHostPort(), l.addr, 1)
	return cfg
}

// apiHostPort is the API server's host:port.
func apiHostPort() string {
	_, hp, _ := strings.Cut(cp.Config.Host, "://")
	if i := strings.IndexByte(hp, '/'); i >= 0 {
		hp = hp[:i]
	}
	return hp
}

// replica runs one more Portico controller, for IngressClass class with
// leader election in leaseNS, reaching the API server through cfg. It
// returns its HTTP listener's address.
func replica(t *testing.T, cfg *rest.Config, class, leaseNS, published string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := controllers.Run(ctx, cfg, controllers.Options{
			Translate:               translate.Options{ControllerName: "portico.dev/" + class, IngressClass: class},
			Publish:                 controllers.Publish{Addresses: []string{published}},
			LeaderElect:             true,
			LeaderElectionNamespace: leaseNS,
			Gateway:                 controllers.GatewayOptions{Namespace: leaseNS},
			HTTPAddr:                "127.0.0.1:0",
			MetricsAddr:             "0",
			HealthAddr:              "0",
			OnListening: func(name string, a net.Addr) {
				if name == "http" {
					addr <- a.String()
				}
			},
		})
		if err != nil && ctx.Err() == nil {
			t.Errorf("replica for %s stopped: %v", class, err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case a := <-addr:
		return a
	case <-time.After(60 * time.Second):
		t.Fatal("replica did not open its HTTP listener")
		return ""
	}
}

// classFor creates an IngressClass served by controller portico.dev/class.
func classFor(t *testing.T, class string) {
	t.Helper()
	create(t, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: class},
		Spec: networkingv1.IngressClassSpec{Controller: "portico.dev/" + class}})
}

// noRedirects is a client that returns redirects instead of following
// them (a followed redirect would resolve test host names).
var noRedirects = &http.Client{Timeout: 5 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// get sends GET http://host/ through addr.
func get(addr, host string) (int, string, error) {
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	req.Host = host
	resp, err := noRedirects.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func statusIP(t *testing.T, ns, name string) string {
	t.Helper()
	var ing networkingv1.Ingress
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &ing); err != nil {
		return ""
	}
	if lb := ing.Status.LoadBalancer.Ingress; len(lb) > 0 {
		return lb[0].IP
	}
	return ""
}

// outageDuration is how long TestAPIServerOutage cuts the API server off:
// $PORTICO_OUTAGE (e.g. 10m), 40s by default so CI stays short.
func outageDuration(t *testing.T) time.Duration {
	if v := os.Getenv("PORTICO_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("PORTICO_OUTAGE: %v", err)
		}
		return d
	}
	return 40 * time.Second
}

// TestAPIServerOutage cuts a leader-elected replica off the API server for
// outageDuration while clients keep calling it: no request fails, no route
// is lost (losing the Lease does not stop the replica), and once the API
// server is back a new Ingress is served and its status written.
func TestAPIServerOutage(t *testing.T) {
	ns := namespace(t, "outage")
	leaseNS := namespace(t, "outage-lease")
	classFor(t, "outage")
	h := backend(t, 40, "steady")
	svc, es := service(ns, "steady", h)
	create(t, svc, es, ingress(ns, "steady", ptr.To("outage"), "steady.outage.test", path{"/", networkingv1.PathTypePrefix, "steady"}))
	link := newAPILink(t)
	addr := replica(t, link.config(), "outage", leaseNS, "203.0.113.40")
	eventually(t, 30*time.Second, func() error {
		if c, b, err := get(addr, "steady.outage.test"); err != nil || c != 200 {
			return fmt.Errorf("%d %q %w", c, b, err)
		}
		if ip := statusIP(t, ns, "steady"); ip != "203.0.113.40" {
			return fmt.Errorf("status %q", ip)
		}
		return nil
	})

	var sent, failed atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			sent.Add(1)
			if c, b, err := get(addr, "steady.outage.test"); err != nil || c != 200 {
				failed.Add(1)
				firstFailure.CompareAndSwap(nil, fmt.Sprintf("%d %q %v", c, b, err))
			}
		}
	}()
	d := outageDuration(t)
	link.cut()
	time.Sleep(d)
	link.restore(t)
	restored := time.Now()

	// Recovery: a new Ingress is served and gets its status.
	h2 := backend(t, 41, "fresh")
	svc2, es2 := service(ns, "fresh", h2)
	create(t, svc2, es2, ingress(ns, "fresh", ptr.To("outage"), "fresh.outage.test", path{"/", networkingv1.PathTypePrefix, "fresh"}))
	eventually(t, 90*time.Second, func() error {
		if c, b, err := get(addr, "fresh.outage.test"); err != nil || c != 200 {
			return fmt.Errorf("new Ingress after the outage: %d %q %w", c, b, err)
		}
		return nil
	})
	served := time.Since(restored)
	eventually(t, 90*time.Second, func() error {
		if ip := statusIP(t, ns, "fresh"); ip != "203.0.113.40" {
			return fmt.Errorf("status of the new Ingress after the outage: %q", ip)
		}
		return nil
	})
	close(stop)
	<-loadDone
	t.Logf("API server cut off for %s: %d requests, %d failed; after it returned, a new Ingress was served in %s and its status written in %s",
		d, sent.Load(), failed.Load(), served.Round(time.Millisecond), time.Since(restored).Round(time.Millisecond))
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed during the outage; first: %v", failed.Load(), sent.Load(), firstFailure.Load())
	}
}

// TestLeaderFailover: two replicas share a Lease; the leader is cut off
// the API server (as a killed or partitioned pod: it can neither renew
// nor release), and the other takes over status writing within the lease
// time, while both keep serving.
func TestLeaderFailover(t *testing.T) {
	ns := namespace(t, "failover")
	leaseNS := namespace(t, "failover-lease")
	classFor(t, "failover")
	h := backend(t, 42, "fo")
	svc, es := service(ns, "fo", h)
	create(t, svc, es, ingress(ns, "first", ptr.To("failover"), "first.failover.test", path{"/", networkingv1.PathTypePrefix, "fo"}))
	linkA := newAPILink(t)
	addrA := replica(t, linkA.config(), "failover", leaseNS, "203.0.113.42")
	// A is alone, so it leads: its status write proves it.
	eventually(t, 30*time.Second, func() error {
		if ip := statusIP(t, ns, "first"); ip != "203.0.113.42" {
			return fmt.Errorf("status %q", ip)
		}
		return nil
	})
	var lease coordinationv1.Lease
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: leaseNS, Name: controllers.LeaderElectionID}, &lease); err != nil {
		t.Fatalf("Lease: %v", err)
	}
	leaderA := ptr.Deref(lease.Spec.HolderIdentity, "")
	addrB := replica(t, cp.Config, "failover", leaseNS, "203.0.113.42")
	eventually(t, 30*time.Second, func() error {
		if c, _, err := get(addrB, "first.failover.test"); err != nil || c != 200 {
			return fmt.Errorf("replica B: %d %w", c, err)
		}
		return nil
	})

	linkA.cut()
	cutAt := time.Now()
	create(t, ingress(ns, "second", ptr.To("failover"), "second.failover.test", path{"/", networkingv1.PathTypePrefix, "fo"}))
	eventually(t, 60*time.Second, func() error {
		if ip := statusIP(t, ns, "second"); ip != "203.0.113.42" {
			return fmt.Errorf("status of an Ingress created after the leader was cut off: %q", ip)
		}
		return nil
	})
	took := time.Since(cutAt)
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: leaseNS, Name: controllers.LeaderElectionID}, &lease); err != nil {
		t.Fatalf("Lease: %v", err)
	}
	if holder := ptr.Deref(lease.Spec.HolderIdentity, ""); holder == leaderA {
		t.Fatalf("the Lease is still held by the cut-off leader %s", holder)
	}
	// The cut-off replica still serves from its last table.
	if c, _, err := get(addrA, "first.failover.test"); err != nil || c != 200 {
		t.Fatalf("the cut-off replica stopped serving: %d %v", c, err)
	}
	t.Logf("leader cut off: the other replica wrote status %s later (lease duration %s)", took.Round(time.Millisecond), controllers.LeaseDuration)
	if limit := controllers.LeaseDuration + 2*controllers.RetryPeriod + 5*time.Second; took > limit {
		t.Fatalf("status writing resumed after %s, want within the lease time (%s)", took, limit)
	}
}
