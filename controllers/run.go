package controllers

import (
	"context"
	"crypto/tls"
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
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/router"
	certs "github.com/portico-dev/portico/tls"
)

// Options configure the controller process; cmd/portico fills them from
// flags.
type Options struct {
	Translate      translate.Options
	WatchNamespace string
	Publish        Publish

	HTTPAddr    string
	HTTPSAddr   string
	MetricsAddr string // "0" disables
	HealthAddr  string // "0" disables

	LeaderElect             bool
	LeaderElectionNamespace string

	TrustedProxies []netip.Prefix
	AccessLog      bool
	Drain          router.Drain

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
	cacheOpts := cache.Options{}
	if opts.WatchNamespace != "" {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{opts.WatchNamespace: {}}
		if ns, _, ok := strings.Cut(opts.Publish.Service, "/"); ok {
			cacheOpts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	grace := opts.Drain.Delay + opts.Drain.Grace + 5*time.Second
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Cache:                         cacheOpts,
		Metrics:                       metricsserver.Options{BindAddress: opts.MetricsAddr},
		HealthProbeBindAddress:        opts.HealthAddr,
		LeaderElection:                opts.LeaderElect,
		LeaderElectionID:              LeaderElectionID,
		LeaderElectionNamespace:       leaderNamespace(opts.LeaderElectionNamespace),
		LeaderElectionReleaseOnCancel: true,
		GracefulShutdownTimeout:       &grace,
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	rt := router.New(routerOptions(log, opts, metrics.Registry))
	rec := &Reconciler{
		Client:    mgr.GetClient(),
		Router:    rt,
		Translate: opts.Translate,
		Namespace: opts.WatchNamespace,
		Publish:   opts.Publish,
		Recorder:  mgr.GetEventRecorder("portico"),
		IsLeader:  func() bool { return isClosed(mgr.Elected()) },
		Metrics:   newControllerMetrics(metrics.Registry),
	}
	if err := rec.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up reconciler: %w", err)
	}
	var draining atomic.Bool
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("routing-table", readyCheck(rt, &draining)); err != nil {
		return err
	}
	listeners, err := proxyListeners(opts)
	if err != nil {
		return err
	}
	for name, l := range listeners {
		if err := mgr.Add(&proxyServer{name: name, listener: l, handler: rt, drain: opts.Drain,
			draining: &draining, onListening: opts.OnListening, log: log}); err != nil {
			return err
		}
	}
	log.Info("starting", "ingressClass", opts.Translate.IngressClass, "controller", opts.Translate.ControllerName,
		"http", opts.HTTPAddr, "https", opts.HTTPSAddr)
	return mgr.Start(ctx)
}

func routerOptions(log logr.Logger, opts Options, reg prometheus.Registerer) router.Options {
	ro := router.Options{
		TrustedProxies: opts.TrustedProxies,
		Metrics:        router.NewMetrics(reg),
		ErrorLog:       slog.New(logr.ToSlogHandler(log.WithName("proxy"))),
	}
	if opts.AccessLog {
		ro.AccessLog = slog.New(slog.NewJSONHandler(os.Stdout, nil))
	}
	return ro
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

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// readyCheck passes once the first routing table is live (which implies the
// caches synced: the reconciler only runs after) and fails while draining.
func readyCheck(rt *router.Router, draining *atomic.Bool) healthz.Checker {
	return func(*http.Request) error {
		if draining.Load() {
			return errors.New("shutting down")
		}
		if rt.Table() == nil {
			return errors.New("first routing table not built yet")
		}
		return nil
	}
}

// proxyListeners returns the configured client-facing listeners; the HTTPS
// one serves a self-signed certificate until TLS configuration lands.
func proxyListeners(opts Options) (map[string]router.Listener, error) {
	out := map[string]router.Listener{}
	if opts.HTTPAddr != "" {
		out["http"] = router.Listener{Addr: opts.HTTPAddr}
	}
	if opts.HTTPSAddr != "" {
		cert, err := certs.SelfSigned("portico.invalid")
		if err != nil {
			return nil, err
		}
		out["https"] = router.Listener{Addr: opts.HTTPSAddr, TLS: certs.ServerConfig(
			func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert, nil })}
	}
	return out, nil
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
