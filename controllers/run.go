package controllers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	portico "github.com/portico-dev/portico/api/v1alpha1"
	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/dataplane"
	"github.com/portico-dev/portico/router"
)

// Options configure the controller process; cmd/portico fills them from
// flags.
type Options struct {
	Translate      translate.Options
	WatchNamespace string
	Publish        Publish

	HTTPAddr  string
	HTTPSAddr string
	// HTTPSRedirectPort is the HTTPS port clients use (in redirects).
	HTTPSRedirectPort int
	MetricsAddr       string // "0" disables
	HealthAddr        string // "0" disables
	// PprofAddr, when set, serves Go's /debug/pprof (profiling; keep it
	// on loopback).
	PprofAddr string

	LeaderElect             bool
	LeaderElectionNamespace string

	TrustedProxies []netip.Prefix
	Edge           router.EdgeOptions
	AccessLog      bool
	Drain          router.Drain
	// Tracing, when set, traces proxied requests.
	Tracing *router.Tracing

	// ACME, when its CA is set, obtains certificates for TLS entries
	// without a secretName.
	ACME ACMEOptions
	// Gateway configures the Gateway API (Translate.GatewayControllerName
	// turns it on when the CRDs are installed).
	Gateway GatewayOptions
	// IstioRequired makes Portico wait for the Istio CRDs instead of
	// running without them (Translate.Istio turns Istio on).
	IstioRequired bool
	// NginxConfigMap, "namespace/name", is ingress-nginx's controller
	// ConfigMap, watched when Translate.Nginx is set ("" for its
	// defaults).
	NginxConfigMap string

	// Debug, when set, adds read-only pages to the metrics server (for
	// /debug/explain and /dashboard); paths it serves are DebugPaths.
	Debug      DebugHandlers
	DebugPaths []string

	// OnListening, when set, is told each proxy listener's bound address
	// ("http" or "https"); tests use it with ":0" addresses.
	OnListening func(name string, addr net.Addr)
}

// LeaderElectionID names the Lease that replicas compete for.
const LeaderElectionID = "portico-leader.portico.dev"

// Run starts the controller and the proxy, and blocks until ctx is done and
// everything has drained.
func Run(ctx context.Context, cfg *rest.Config, opts Options) error {
	log := ctrl.Log.WithName("portico")
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := gatewayv1.Install(scheme); err != nil {
		return err
	}
	if err := istiov1.AddToScheme(scheme); err != nil {
		return err
	}
	if err := portico.AddToScheme(scheme); err != nil {
		return err
	}
	if opts.Translate.Istio != nil {
		opts.Translate.Istio.PerGateway = false
	}
	nginxKey, err := parseNginxConfigMap(opts.NginxConfigMap)
	if err != nil {
		return err
	}
	opts.Gateway.defaults()
	if opts.Gateway.Namespace == "" {
		opts.Gateway.Namespace = leaderNamespace(opts.LeaderElectionNamespace)
	}
	// Only kubernetes.io/tls Secrets are cached, so clusters with many other
	// Secrets (Helm releases) do not inflate memory. Other referenced
	// Secrets (client CAs, policies' credentials) are read directly, and
	// their changes seen through a metadata watch (refwatch.go).
	// Cached objects lose what Portico never reads (see transform.go).
	cacheOpts := cache.Options{
		DefaultTransform: stripManagedFields,
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}:             {Field: fields.OneTermEqualSelector("type", string(corev1.SecretTypeTLS)), Transform: trimReadOnly},
			&discoveryv1.EndpointSlice{}: {Transform: trimReadOnly},
			&networkingv1.Ingress{}:      {Transform: trimReadOnly},
			&networkingv1.IngressClass{}: {Transform: trimReadOnly},
		},
	}
	if opts.WatchNamespace != "" {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{opts.WatchNamespace: {}}
		if ns, _, ok := strings.Cut(opts.Publish.Service, "/"); ok {
			cacheOpts.DefaultNamespaces[ns] = cache.Config{}
		}
		cacheOpts.DefaultNamespaces[opts.Gateway.Namespace] = cache.Config{}
		if nginxKey.Namespace != "" && opts.Translate.Nginx != nil {
			cacheOpts.DefaultNamespaces[nginxKey.Namespace] = cache.Config{}
		}
	}
	grace := opts.Drain.Delay + opts.Drain.Grace + 5*time.Second
	applied := dataplane.NewAppliedLog()
	extra := map[string]http.Handler{"/debug/applied": applied}
	debug := &lateHandler{}
	for _, p := range opts.DebugPaths {
		extra[p] = debug
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme,
		Cache:  cacheOpts,
		// /debug/applied says which table generation serves each object's
		// latest change, and since when.
		Metrics: metricsserver.Options{BindAddress: opts.MetricsAddr,
			ExtraHandlers: extra},
		HealthProbeBindAddress: opts.HealthAddr,
		PprofBindAddress:       opts.PprofAddr,
		// Leadership is Portico's own (leaderElector): losing it must not
		// stop a replica that serves traffic.
		LeaderElection:          false,
		GracefulShutdownTimeout: &grace,
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	var acme *acmeManager
	do := dataplaneOptions(log, opts)
	if opts.ACME.CA != "" {
		ns := opts.ACME.Namespace
		if ns == "" {
			ns = leaderNamespace("")
		}
		storage := NewSecretStorage(mgr.GetClient(), mgr.GetAPIReader(), ns)
		acme, err = newACMEManager(opts.ACME, storage, opts.HTTPAddr, opts.HTTPSAddr, mgr.GetAPIReader(),
			mgr.GetEventRecorder("portico-acme"), log.WithName("acme"))
		if err != nil {
			return err
		}
		if err := mgr.Add(acme); err != nil {
			return err
		}
		do.Intercept = acme.HandleHTTP
		opts.Translate.ACME = true
	}
	dp, err := dataplane.New(do)
	if err != nil {
		return err
	}
	if acme != nil {
		dp.Certs.SetACME(acme.GetCertificate)
	}
	var kinds gatewayKinds
	if opts.Translate.GatewayControllerName != "" {
		var missing []string
		kinds, missing = detectGatewayAPI(mgr.GetRESTMapper())
		switch {
		case !kinds.enabled():
			log.Info("Gateway API CRDs are not installed: the Gateway API is off", "missing", missing)
			opts.Translate.GatewayControllerName = ""
		case len(missing) > 0:
			log.Info("some Gateway API CRDs are not installed: their kinds are off", "missing", missing)
		}
	}
	gwListeners := &gatewayListeners{set: dataplane.NewListenerSet(dp.Router, opts.Drain,
		slog.New(logr.ToSlogHandler(log.WithName("gateway"))), opts.OnListening)}
	gwListeners.onStop = gwListeners.set.Wait
	if err := mgr.Add(gwListeners); err != nil {
		return err
	}
	// The Secrets and ConfigMaps policies and annotations name are read
	// directly; their metadata is watched to see a change (refwatch.go).
	refCache, err := newRefCache(cfg, cache.Options{Scheme: scheme, Mapper: mgr.GetRESTMapper(), HTTPClient: mgr.GetHTTPClient()},
		cacheOpts.DefaultNamespaces)
	if err != nil {
		return fmt.Errorf("creating the Secret metadata cache: %w", err)
	}
	if err := mgr.Add(refCache); err != nil {
		return err
	}
	rec := &Reconciler{
		refCache:     refCache,
		Client:       mgr.GetClient(),
		APIReader:    mgr.GetAPIReader(),
		Dataplane:    dp,
		ACME:         acme,
		Gateway:      opts.Gateway,
		gatewayKinds: kinds,
		gateways:     gwListeners,
		Translate:    opts.Translate,
		Namespace:    opts.WatchNamespace,
		Publish:      opts.Publish,
		Recorder:     mgr.GetEventRecorder("portico"),
		IsLeader:     func() bool { return true },
		Metrics:      newControllerMetrics(metrics.Registry),
		Applied:      applied,
		nginx:        nginxConfig{key: nginxKey},
	}
	if opts.LeaderElect {
		le := newLeaderElector(cfg, leaderNamespace(opts.LeaderElectionNamespace), log.WithName("leader"))
		le.onElected = rec.Kick
		rec.IsLeader = le.IsLeader
		if err := mgr.Add(le); err != nil {
			return err
		}
	}
	if opts.Debug != nil {
		rec.problems = &currentProblems{r: rec}
		mux := http.NewServeMux()
		for p, h := range opts.Debug(dp, rec.problems.get, applied) {
			mux.Handle(p, h)
		}
		debug.set(mux)
	}
	if err := rec.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up reconciler: %w", err)
	}
	if opts.Translate.Istio != nil {
		if err := mgr.Add(&istioWatcher{r: rec, mapper: mgr.GetRESTMapper(), cache: mgr.GetCache(), required: opts.IstioRequired,
			log: log.WithName("istio")}); err != nil {
			return err
		}
	}
	if err := mgr.Add(&policyWatcher{r: rec, mapper: mgr.GetRESTMapper(), cache: mgr.GetCache(), log: log.WithName("policies")}); err != nil {
		return err
	}
	var draining atomic.Bool
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("routing-table", readyCheck(dp, &draining)); err != nil {
		return err
	}
	for name, l := range dp.Listeners() {
		if err := mgr.Add(&proxyServer{name: name, listener: l, handler: dp.Router, drain: opts.Drain,
			draining: &draining, onListening: opts.OnListening, log: log}); err != nil {
			return err
		}
	}
	log.Info("starting", "ingressClass", opts.Translate.IngressClass, "controller", opts.Translate.ControllerName,
		"ingressNginxCompat", opts.Translate.Nginx != nil, "http", opts.HTTPAddr, "https", opts.HTTPSAddr)
	return mgr.Start(ctx)
}

func dataplaneOptions(log logr.Logger, opts Options) dataplane.Options {
	do := dataplane.Options{
		HTTPAddr:          opts.HTTPAddr,
		HTTPSAddr:         opts.HTTPSAddr,
		HTTPSRedirectPort: opts.HTTPSRedirectPort,
		TrustedProxies:    opts.TrustedProxies,
		Edge:              opts.Edge,
		Metrics:           metrics.Registry,
		Log:               slog.New(logr.ToSlogHandler(log.WithName("proxy"))),
		Tracing:           opts.Tracing,
	}
	if opts.AccessLog {
		do.AccessLog = os.Stdout
	}
	return do
}

func leaderNamespace(ns string) string {
	if ns != "" {
		return ns
	}
	if v := os.Getenv("POD_NAMESPACE"); v != "" {
		return v
	}
	return "portico-system"
}

// readyCheck passes once the first routing table is live (which implies the
// caches synced: the reconciler only runs after) and fails while draining.
func readyCheck(dp *dataplane.Dataplane, draining *atomic.Bool) healthz.Checker {
	return func(*http.Request) error {
		if draining.Load() {
			return errors.New("shutting down")
		}
		if !dp.Ready() {
			return errors.New("first routing table not built yet")
		}
		return nil
	}
}

// proxyServer runs one client-facing listener on every replica (it does not
// wait for leadership). When the manager stops, it marks the process as
// draining so /readyz fails, then drains.
type proxyServer struct {
	name        string
	listener    router.Listener
	handler     http.Handler
	drain       router.Drain
	draining    *atomic.Bool
	onListening func(string, net.Addr)
	log         logr.Logger
}

var _ manager.LeaderElectionRunnable = (*proxyServer)(nil)

func (p *proxyServer) NeedLeaderElection() bool { return false }

func (p *proxyServer) Start(ctx context.Context) error {
	stop, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-ctx.Done()
		p.draining.Store(true)
		cancel()
	}()
	return router.Serve(stop, p.listener, p.handler, p.drain, func(a net.Addr) {
		p.log.Info("proxy listening", "listener", p.name, "address", a.String())
		if p.onListening != nil {
			p.onListening(p.name, a)
		}
	})
}
