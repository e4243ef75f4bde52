package harness

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// scaleSecrets is how many TLS Secrets TestManyTLSSecrets creates:
// $PORTICO_SCALE_SECRETS, 10,000 by default.
func scaleSecrets(t *testing.T) int {
	if v := os.Getenv("PORTICO_SCALE_SECRETS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("PORTICO_SCALE_SECRETS: %v", err)
		}
		return n
	}
	return 10000
}

// heapInUse is the live Go heap after a collection, in MiB.
func heapInUse() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapInuse) / (1 << 20)
}

// rssMiB is this process's resident set, in MiB.
func rssMiB() float64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// TestManyTLSSecrets: 10,000 Ingresses, each with its own TLS Secret, are
// served by one replica (its class only) with bounded memory: every host's
// own certificate is served, and the growth of the process's live heap and
// RSS is reported. Secrets share one certificate's bytes but are distinct
// objects, so the cache and the certificate index hold 10,000 entries.
func TestManyTLSSecrets(t *testing.T) {
	n := scaleSecrets(t)
	ctx := context.Background()
	ns := namespace(t, "many-secrets")
	classFor(t, "scale")
	h := backend(t, 45, "scale")
	svc, es := service(ns, "scale", h)
	create(t, svc, es)
	heap0, rss0 := heapInUse(), rssMiB()
	data, _ := tlsSecretData(t, "*.scale.test")
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 16 {
				name := fmt.Sprintf("s%05d", i)
				sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: corev1.SecretTypeTLS, Data: data}
				ing := ingress(ns, name, ptr.To("scale"), name+".scale.test", path{"/", networkingv1.PathTypePrefix, "scale"})
				ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{name + ".scale.test"}, SecretName: name}}
				for _, o := range []client.Object{sec, ing} {
					if err := k8s.Create(ctx, o); err != nil {
						select {
						case errs <- err:
						default:
						}
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatalf("creating objects: %v", err)
	default:
	}
	created := time.Since(start)
	addr := replica(t, cp.Config, "scale", namespace(t, "scale-lease"), "203.0.113.45")
	last := fmt.Sprintf("s%05d.scale.test", n-1)
	eventually(t, 5*time.Minute, func() error {
		// A TLS host redirects cleartext requests: 308 proves its route.
		if c, b, err := get(addr, last); err != nil || c != http.StatusPermanentRedirect {
			return fmt.Errorf("last host: %d %q %w", c, b, err)
		}
		return nil
	})
	served := time.Since(start)
	heap1, rss1 := heapInUse(), rssMiB()
	t.Logf("%d Ingresses with their own TLS Secret: created in %s, all served %s after the first was created; live heap %.0f -> %.0f MiB, RSS %.0f -> %.0f MiB (the whole test process: the suite's controller caches them too)",
		n, created.Round(time.Second), served.Round(time.Second), heap0, heap1, rss0, rss1)
	if limit := 400.0; heap1-heap0 > limit {
		t.Fatalf("live heap grew by %.0f MiB for %d TLS Secrets, want at most %.0f", heap1-heap0, n, limit)
	}
	// Clean up so later tests rebuild small tables.
	deleteAllEventually(t, ns, &networkingv1.Ingress{}, &networkingv1.IngressList{})
	deleteAllEventually(t, ns, &corev1.Secret{}, &corev1.SecretList{})
}

// deleteAllEventually deletes every object of a kind in ns. A collection
// delete of 10,000 objects can outlast the API server's request timeout
// on a loaded machine, which answers a timeout while it goes on
// deleting: that is retried until the list is empty.
func deleteAllEventually(t *testing.T, ns string, obj client.Object, list client.ObjectList) {
	t.Helper()
	ctx := context.Background()
	eventually(t, 5*time.Minute, func() error {
		if err := k8s.DeleteAllOf(ctx, obj, client.InNamespace(ns)); err != nil && !apierrors.IsTimeout(err) && !apierrors.IsServerTimeout(err) {
			return err
		}
		if err := k8s.List(ctx, list, client.InNamespace(ns), client.Limit(1)); err != nil {
			return err
		}
		if n := meta.LenList(list); n > 0 {
			return fmt.Errorf("%T: objects left in %s", obj, ns)
		}
		return nil
	})
}
