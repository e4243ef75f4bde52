package standalone

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/router"
	certs "github.com/portico-dev/portico/tls"
)

// Options configure `portico standalone`.
type Options struct {
	Dir            string
	Translate      translate.Options
	HTTPAddr       string
	HTTPSAddr      string
	AdminAddr      string // /healthz, /readyz, /metrics; "" disables
	TrustedProxies []netip.Prefix
	AccessLog      bool
	Interval       time.Duration // how often the directory is checked
	Drain          router.Drain
	Log            *slog.Logger
	// Out receives the status report after each load.
	Out io.Writer
	// OnListening, when set, is told each listener's bound address.
	OnListening func(name string, addr net.Addr)
}

// Run serves the manifests in opts.Dir until ctx is done, reloading them
// when they change. A bad file is reported and the last good table keeps
// serving.
func Run(ctx context.Context, opts Options) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ro := router.Options{TrustedProxies: opts.TrustedProxies, Metrics: router.NewMetrics(reg), ErrorLog: opts.Log}
	if opts.AccessLog {
		ro.AccessLog = slog.New(slog.NewJSONHandler(opts.Out, nil))
	}
	rt := router.New(ro)

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
	if opts.HTTPAddr != "" {
		serve("http", router.Listener{Addr: opts.HTTPAddr}, rt)
	}
	if opts.HTTPSAddr != "" {
		cert, err := certs.SelfSigned("portico.invalid")
		if err != nil {
			return err
		}
		serve("https", router.Listener{Addr: opts.HTTPSAddr, TLS: certs.ServerConfig(
			func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert, nil })}, rt)
	}
	if opts.AdminAddr != "" {
		serve("admin", router.Listener{Addr: opts.AdminAddr}, adminMux(rt, reg))
	}

	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		Watch(ctx, opts.Dir, opts.Interval, func(snap *translate.Snapshot, ignored []string) {
			start := time.Now()
			res := translate.Translate(snap, opts.Translate)
			table := router.Compile(res.Config)
			gen := rt.Swap(table)
			opts.Log.Info("routing table loaded", "generation", gen, "routes", len(table.Routes()),
				"problems", len(res.Problems), "took", time.Since(start).String())
			for _, k := range ignored {
				opts.Log.Info("ignoring object of a kind standalone mode does not serve", "object", k)
			}
			PrintProblems(opts.Out, res.Problems)
		}, func(err error) {
			opts.Log.Error("manifests not loaded; the last good configuration keeps serving", "error", err)
		})
	}()

	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	wg.Wait()
	<-watchDone
	return err
}

func adminMux(rt *router.Router, reg *prometheus.Registry) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if rt.Table() == nil {
			http.Error(w, "first routing table not loaded yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}
