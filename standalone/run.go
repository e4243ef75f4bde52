package standalone

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/dataplane"
	"github.com/portico-dev/portico/router"
)

// Options configure `portico standalone`.
type Options struct {
	Dir       string
	Translate translate.Options
	HTTPAddr  string
	HTTPSAddr string
	// HTTPSRedirectPort is the HTTPS port clients use (in redirects).
	HTTPSRedirectPort int
	AdminAddr         string // /healthz, /readyz, /metrics; "" disables
	TrustedProxies    []netip.Prefix
	Edge              router.EdgeOptions
	AccessLog         bool
	// Tracing, when set, traces proxied requests.
	Tracing  *router.Tracing
	Interval time.Duration // how often the directory is checked
	Drain    router.Drain
	Log      *slog.Logger
	// Out receives the status report after each load.
	Out io.Writer
	// OnListening, when set, is told each listener's bound address.
	OnListening func(name string, addr net.Addr)
	// GatewayPool is where Gateways without spec.addresses get their
	// address (default 127.0.1.0/24).
	GatewayPool netip.Prefix
	// Dashboard serves the read-only /dashboard on the admin address.
	Dashboard bool
	// NginxConfigMap, "namespace/name", names the ingress-nginx controller
	// ConfigMap among the directory's objects when Translate.Nginx is set
	// (DefaultNginxConfigMap when empty; absent means ingress-nginx's
	// defaults).
	NginxConfigMap string
}

// Run serves the manifests in opts.Dir until ctx is done, reloading them
// when they change. A bad file is reported and the last good table keeps
// serving.
func Run(ctx context.Context, opts Options) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	do := dataplane.Options{
		HTTPAddr: opts.HTTPAddr, HTTPSAddr: opts.HTTPSAddr, HTTPSRedirectPort: opts.HTTPSRedirectPort,
		TrustedProxies: opts.TrustedProxies, Edge: opts.Edge, Metrics: reg, Log: opts.Log, Tracing: opts.Tracing,
	}
	if opts.AccessLog {
		do.AccessLog = opts.Out
	}
	dp, err := dataplane.New(do)
	if err != nil {
		return err
	}

	var wg sync.WaitGroup
	errc := make(chan error, 3)
	serve := func(name string, l router.Listener, h http.Handler) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := router.Serve(ctx, l, h, opts.Drain, func(a net.Addr) {
				opts.Log.Info("listening", "listener", name, "address", a.String())
				if opts.OnListening != nil {
					opts.OnListening(name, a)
				}
			})
			if err != nil {
				errc <- fmt.Errorf("%s listener: %w", name, err)
			}
		}()
	}
	for name, l := range dp.Listeners() {
		serve(name, l, dp.Router)
	}
	applied := dataplane.NewAppliedLog()
	var current atomic.Pointer[[]translate.Problem]
	live := Live{Dataplane: dp, Applied: applied, HTTPAddr: opts.HTTPAddr, HTTPSAddr: opts.HTTPSAddr,
		Problems: func() []translate.Problem {
			if p := current.Load(); p != nil {
				return *p
			}
			return nil
		}}
	if opts.AdminAddr != "" {
		mux := adminMux(ctx, dp, reg, applied)
		for p, h := range live.Handlers(opts.Dashboard) {
			mux.Handle(p, h)
		}
		serve("admin", router.Listener{Addr: opts.AdminAddr}, mux)
	}

	if !opts.GatewayPool.IsValid() {
		opts.GatewayPool = netip.MustParsePrefix("127.0.1.0/24")
	}
	gwListeners := dataplane.NewListenerSet(dp.Router, opts.Drain, opts.Log, opts.OnListening)
	gws := newGatewayAddresses(opts.GatewayPool, dp, gwListeners, opts.Log)
	watchDone := make(chan struct{})
	engine := translate.NewEngine()
	go func() {
		defer close(watchDone)
		WatchChanges(ctx, opts.Dir, opts.Interval, func(ch *Changes) {
			start := time.Now()
			for _, o := range ch.Set {
				engine.Set(o)
			}
			for _, ref := range ch.Deleted {
				engine.Delete(ref.Kind, ref.Namespace, ref.Name)
			}
			engine.SetOthers(ch.Others)
			topts, err := WithNginxConfig(opts.Translate, ch.Others, opts.NginxConfigMap)
			if err != nil {
				opts.Log.Error("ingress-nginx ConfigMap", "error", err)
			}
			topts.Now, topts.CertCache = start, dp.CertCache
			u := engine.Update(topts)
			table := dp.ApplyTable(u.Serving, u.Table, u.CertsChanged)
			swapped := time.Now()
			if u.CertsChanged {
				dp.CertCache.Sweep()
			}
			for _, o := range ch.Set {
				if m, ok := o.(metav1.Object); ok {
					applied.RecordChange(kindOf(o)+"/"+m.GetNamespace()+"/"+m.GetName(), false, table.Generation, start, swapped)
				}
			}
			for _, ref := range ch.Deleted {
				applied.RecordChange(ref.String(), true, table.Generation, start, swapped)
			}
			opts.Log.Info("routing table loaded", "generation", table.Generation, "routes", table.RouteCount(),
				"files", ch.Files, "changed", len(ch.Set)+len(ch.Deleted), "whole", u.Whole, "retranslated", u.Retranslated,
				"took", swapped.Sub(start).String())
			for _, k := range ch.Ignored {
				opts.Log.Info("ignoring object of a kind standalone mode does not serve", "object", k)
			}
			var sts []StatusView
			var problems []translate.Problem
			if u.Whole {
				translate.ApplyDrops(u.Result, table.Dropped())
				addrs := gws.sync(ctx, u.Result.GatewayListeners)
				for _, gw := range slices.Sorted(maps.Keys(addrs)) {
					fmt.Fprintf(opts.Out, "%s: address %s\n", gw, addrs[gw])
				}
				sts, problems = gatewayStatuses(u.Result), u.Result.Problems
			} else {
				// No Gateway API or Istio objects (else the Update is
				// whole): only Ingress problems, without materialising
				// the whole Result.
				gws.sync(ctx, nil)
				problems = append(engine.AllProblems(), translate.DropProblems(table.Dropped())...)
			}
			if topts.Nginx != nil {
				problems = append(problems, NginxConfigProblems(ch.Others, opts.NginxConfigMap)...)
			}
			current.Store(&problems)
			PrintStatuses(opts.Out, sts)
			PrintProblems(opts.Out, problems)
		}, func(err error) {
			opts.Log.Error("manifests not loaded; the last good configuration keeps serving", "error", err)
		})
	}()

	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	wg.Wait()
	<-watchDone
	gwListeners.Wait()
	return err
}

// kindOf names an object's kind as ObjectRef does.
func kindOf(o runtime.Object) string {
	if k := o.GetObjectKind().GroupVersionKind().Kind; k != "" {
		return k
	}
	return fmt.Sprintf("%T", o)
}

// adminMux serves health, readiness, metrics and /debug/applied. Readiness fails from the
// moment ctx ends (SIGTERM), so load balancers stop sending during the
// shutdown delay, while the listeners still serve.
func adminMux(ctx context.Context, dp *dataplane.Dataplane, reg *prometheus.Registry, applied *dataplane.AppliedLog) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ctx.Err() != nil {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		if !dp.Ready() {
			http.Error(w, "first routing table not loaded yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/debug/applied", applied)
	return mux
}
