package main

import (
	"flag"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/portico-dev/portico/controllers"
	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/dataplane"
	"github.com/portico-dev/portico/standalone"
)

func runController(args []string) error {
	fs := flag.NewFlagSet("controller", flag.ExitOnError)
	var c common
	c.register(fs, true)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: in-cluster config, then $KUBECONFIG)")
	watchNS := fs.String("watch-namespace", "", "only watch this namespace (default: all)")
	publishSvc := fs.String("publish-service", "", "namespace/name of the Service whose addresses go into Ingress status")
	publishAddr := fs.String("publish-address", "", "comma-separated IPs or host names written into Ingress status (wins over --publish-service)")
	metricsAddr := fs.String("metrics-addr", ":10254", "Prometheus /metrics address, also serving /debug/applied and /debug/explain (\"0\" disables)")
	dashboard := fs.Bool("dashboard", false, "serve the read-only HTML dashboard at /dashboard on the --metrics-addr server")
	healthAddr := fs.String("health-addr", ":10256", "/healthz and /readyz address (\"0\" disables)")
	pprofAddr := fs.String("pprof-addr", "", "serve Go's /debug/pprof profiles on this address, e.g. 127.0.0.1:6060 (empty: off)")
	redirectPort := fs.Int("https-redirect-port", 443, "HTTPS port clients use, written into HTTP->HTTPS redirects (443 is left out)")
	leaderElect := fs.Bool("leader-elect", false, "elect a leader among replicas; only the leader writes status and Events")
	leaderNS := fs.String("leader-elect-namespace", "", "namespace of the leader Lease (default: $POD_NAMESPACE, else portico-system)")
	var acme controllers.ACMEOptions
	fs.StringVar(&acme.CA, "acme-ca", "", "ACME directory URL (e.g. https://acme-v02.api.letsencrypt.org/directory); enables certificates for Ingress TLS entries without secretName")
	fs.StringVar(&acme.Email, "acme-email", "", "ACME account e-mail")
	fs.StringVar(&acme.CARootsFile, "acme-ca-roots", "", "PEM file of CAs trusted for the ACME server's HTTPS endpoint (private ACME CAs)")
	fs.StringVar(&acme.Namespace, "acme-namespace", "", "namespace of the Secrets and Leases holding ACME state (default: the leader-election namespace)")
	fs.StringVar(&acme.Profile, "acme-profile", "", "ACME certificate profile to request, when the CA offers profiles")
	var gw controllers.GatewayOptions
	gwType := fs.String("gateway-service-type", "LoadBalancer", "type of the Service made for each Gateway: LoadBalancer, NodePort or ClusterIP")
	gwPorts := fs.String("gateway-port-range", "20000-29999", "internal proxy ports Gateway listeners are mapped to")
	fs.StringVar(&gw.BindAddress, "gateway-bind-address", "", "host the internal Gateway ports listen on (default: all interfaces)")
	fs.StringVar(&gw.Namespace, "gateway-namespace", "", "namespace of the per-Gateway Services, where Portico's Pods run (default: $POD_NAMESPACE)")
	zopts := zap.Options{}
	zopts.BindFlags(fs)
	_ = fs.Parse(args)
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zopts)))
	c.runtime()

	trusted, err := c.trustedProxies()
	if err != nil {
		return err
	}
	edge, err := c.edge()
	if err != nil {
		return err
	}
	switch t := corev1.ServiceType(*gwType); t {
	case corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort, corev1.ServiceTypeClusterIP:
		gw.ServiceType = t
	default:
		return fmt.Errorf("--gateway-service-type %q: want LoadBalancer, NodePort or ClusterIP", *gwType)
	}
	if _, err := fmt.Sscanf(*gwPorts, "%d-%d", &gw.PortMin, &gw.PortMax); err != nil || gw.PortMin < 1 || gw.PortMax > 65535 || gw.PortMin > gw.PortMax {
		return fmt.Errorf("--gateway-port-range %q: want MIN-MAX", *gwPorts)
	}
	topts, err := c.translate()
	if err != nil {
		return err
	}
	cfg, err := restConfig(*kubeconfig)
	if err != nil {
		return err
	}
	ctx := ctrl.SetupSignalHandler()
	tracing, flush, err := c.tracing.start(ctx)
	if err != nil {
		return err
	}
	defer flushTraces(flush)
	return controllers.Run(ctx, cfg, controllers.Options{
		Translate:               topts,
		IstioRequired:           c.istio == "true",
		NginxConfigMap:          c.nginxConfigMap,
		WatchNamespace:          *watchNS,
		Publish:                 controllers.Publish{Service: *publishSvc, Addresses: splitList(*publishAddr)},
		HTTPAddr:                c.httpAddr,
		HTTPSAddr:               c.httpsAddr,
		HTTPSRedirectPort:       *redirectPort,
		MetricsAddr:             *metricsAddr,
		HealthAddr:              *healthAddr,
		PprofAddr:               *pprofAddr,
		LeaderElect:             *leaderElect,
		LeaderElectionNamespace: *leaderNS,
		TrustedProxies:          trusted,
		Edge:                    edge,
		AccessLog:               c.accessLog,
		Tracing:                 tracing,
		Drain:                   c.drain(),
		ACME:                    acme,
		Gateway:                 gw,
		Debug:                   debugHandlers(*dashboard, c.httpAddr, c.httpsAddr),
		DebugPaths:              debugPaths(*dashboard),
	})
}

// debugHandlers serves /debug/explain (and /dashboard) from the
// controller's data plane.
func debugHandlers(dashboard bool, httpAddr, httpsAddr string) controllers.DebugHandlers {
	return func(dp *dataplane.Dataplane, problems func() []translate.Problem, applied *dataplane.AppliedLog) map[string]http.Handler {
		live := standalone.Live{Dataplane: dp, Problems: problems, Applied: applied, HTTPAddr: httpAddr, HTTPSAddr: httpsAddr}
		return live.Handlers(dashboard)
	}
}

func debugPaths(dashboard bool) []string {
	if dashboard {
		return []string{"/debug/explain", "/dashboard"}
	}
	return []string{"/debug/explain"}
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("loading kubeconfig %s: %w", kubeconfig, err)
		}
		return cfg, nil
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("no cluster configuration (in-cluster, $KUBECONFIG or ~/.kube/config): %w", err)
	}
	return cfg, nil
}
