package harness

import (
	"context"
	"fmt"
	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
	istiov1alpha3 "istio.io/client-go/pkg/apis/networking/v1alpha3"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	portico "github.com/portico-dev/portico/api/v1alpha1"
	"github.com/portico-dev/portico/controllers"
	"github.com/portico-dev/portico/controllers/translate"
)

// One control plane and one Portico controller serve every test of the
// package run.
var (
	cp        *ControlPlane
	k8s       client.Client
	proxyAddr string // the controller's HTTP listener
	httpsAddr string // the controller's HTTPS listener
	// gatewayBound maps Gateway listener keys to the addresses bound.
	gatewayBound sync.Map
)

const publishedIP = "203.0.113.10" // written into status only, never dialled

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.Level(zapLevel()))))
	var err error
	if err = SetupNetwork(); err != nil {
		fmt.Fprintln(os.Stderr, "envtest:", err)
		return 1
	}
	defer CleanupNetwork()
	cp, err = StartControlPlane("../manifests/gateway-api/experimental", "../manifests/portico")
	if err != nil {
		fmt.Fprintln(os.Stderr, "envtest:", err)
		return 1
	}
	defer cp.Stop()
	for _, add := range []func(*runtime.Scheme) error{istiov1.AddToScheme, istiov1alpha3.AddToScheme, apiextensionsv1.AddToScheme, portico.AddToScheme} {
		if err == nil {
			err = add(scheme.Scheme)
		}
	}
	if err == nil {
		err = gatewayv1.Install(scheme.Scheme)
	}
	if err == nil {
		k8s, err = client.New(cp.Config, client.Options{Scheme: scheme.Scheme})
	}
	if err == nil {
		err = k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "portico-system"}})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "envtest:", err)
		return 1
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	addrs := make(chan string, 2)
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := controllers.Run(ctx, cp.Config, controllers.Options{
			Translate: translate.Options{ControllerName: "portico.dev/ingress-controller", IngressClass: "portico",
				GatewayControllerName: "portico.dev/gateway-controller",
				Istio:                 &translate.IstioOptions{Selector: map[string]string{"istio": "ingressgateway"}}},
			Gateway: controllers.GatewayOptions{Namespace: "portico-system", ServiceType: "ClusterIP",
				BindAddress: "127.0.0.1", PortMin: 31000, PortMax: 31999},
			Publish:     controllers.Publish{Addresses: []string{publishedIP}},
			HTTPAddr:    "127.0.0.1:0",
			HTTPSAddr:   "127.0.0.1:0",
			MetricsAddr: "0",
			HealthAddr:  "0",
			OnListening: func(name string, a net.Addr) {
				if name == "http" || name == "https" {
					addrs <- name + "=" + a.String()
					return
				}
				gatewayBound.Store(name, a.String())
			},
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "controller stopped:", err)
		}
	}()
	for range 2 {
		select {
		case a := <-addrs:
			if name, addr, _ := strings.Cut(a, "="); name == "http" {
				proxyAddr = addr
			} else {
				httpsAddr = addr
			}
		case <-time.After(60 * time.Second):
			fmt.Fprintln(os.Stderr, "envtest: controller did not open its listeners")
			cancel()
			return 1
		}
	}
	code := m.Run()
	cancel()
	wg.Wait()
	return code
}

func zapLevel() int8 {
	if os.Getenv("PORTICO_TEST_VERBOSE") != "" {
		return -1
	}
	return 2 // errors only
}

// eventually retries f until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	if err := poll(timeout, f); err != nil {
		t.Fatalf("condition not met within %s: %v", timeout, err)
	}
}

// poll retries f every 50ms until it returns nil, or returns its last error
// once timeout has passed.
func poll(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var httpClient = &http.Client{Timeout: 5 * time.Second}
