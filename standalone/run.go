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
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

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
	if opts.AdminAddr != "" {
		serve("admin", router.Listener{Addr: opts.AdminAddr}, adminMux(ctx, dp, reg))
	}

	if !opts.GatewayPool.IsValid() {
		opts.GatewayPool = netip.MustParsePrefix("127.0.1.0/24")
	}
	gwListeners := dataplane.NewListenerSet(dp.Router, opts.Drain, opts.Log, opts.OnListening)
	gws := newGatewayAddresses(opts.GatewayPool, dp, gwListeners, opts.Log)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		Watch(ctx, opts.Dir, opts.Interval, func(snap *translate.Snapshot, ignored []string) {
			start := time.Now()
			topts := opts.Translate
			topts.Now, topts.CertCache = start, dp.CertCache
			res := translate.Translate(snap, topts)
			table, _ := dp.Apply(res.Serving())
			translate.ApplyDrops(&res, table.Dropped())
			opts.Log.Info("routing table loaded", "generation", table.Generation, "routes", len(table.Routes()),
				"problems", len(res.Problems), "took", time.Since(start).String())
			for _, k := range ignored {
				opts.Log.Info("ignoring object of a kind standalone mode does not serve", "object", k)
			}
			addrs := gws.sync(ctx, res.GatewayListeners)
			for _, gw := range slices.Sorted(maps.Keys(addrs)) {
				fmt.Fprintf(opts.Out, "%s: address %s\n", gw, addrs[gw])
			}
			rep := Describe(table, &res)
			PrintStatuses(opts.Out, rep.Statuses)
			PrintProblems(opts.Out, res.Problems)
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

// adminMux serves health, readiness and metrics. Readiness fails from the
// moment ctx ends (SIGTERM), so load balancers stop sending during the
// shutdown delay, while the listeners still serve.
func adminMux(ctx context.Context, dp *dataplane.Dataplane, reg *prometheus.Registry) *http.ServeMux {
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
	return mux
}
