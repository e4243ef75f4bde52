package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/dataplane"
	"github.com/portico-dev/portico/router"
	"github.com/portico-dev/portico/standalone"
)

func runStandalone(args []string) error {
	fs := flag.NewFlagSet("standalone", flag.ExitOnError)
	var c common
	c.register(fs, true)
	dir := fs.String("manifests", "", "directory of Kubernetes YAML (*.yaml, *.yml, multi-document) to serve")
	adminAddr := fs.String("admin-addr", "127.0.0.1:10256", "address for /healthz, /readyz, /metrics, /debug/applied and /debug/explain (empty disables)")
	dashboard := fs.Bool("dashboard", false, "serve the read-only HTML dashboard at /dashboard on the admin address")
	redirectPort := fs.Int("https-redirect-port", 0, "HTTPS port clients use, written into HTTP->HTTPS redirects (default: the --https-addr port)")
	pool := fs.String("gateway-address-pool", "127.0.1.0/24", "addresses for Gateways without spec.addresses, one per Gateway")
	interval := fs.Duration("reload-interval", time.Second, "how often the manifests are checked for changes besides inotify (its fallback)")
	_ = fs.Parse(args)
	if *dir == "" {
		return fmt.Errorf("standalone: --manifests DIR is required")
	}
	c.runtime()
	trusted, err := c.trustedProxies()
	if err != nil {
		return err
	}
	edge, err := c.edge()
	if err != nil {
		return err
	}
	if *redirectPort == 0 {
		*redirectPort = portOf(c.httpsAddr, 443)
	}
	topts, err := c.translate()
	if err != nil {
		return err
	}
	gwPool, err := netip.ParsePrefix(*pool)
	if err != nil {
		return fmt.Errorf("--gateway-address-pool: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tracing, flush, err := c.tracing.start(ctx)
	if err != nil {
		return err
	}
	defer flushTraces(flush)
	return standalone.Run(ctx, standalone.Options{
		Dir:               *dir,
		Translate:         topts,
		HTTPAddr:          c.httpAddr,
		HTTPSAddr:         c.httpsAddr,
		HTTPSRedirectPort: *redirectPort,
		GatewayPool:       gwPool,
		Dashboard:         *dashboard,
		AdminAddr:         *adminAddr,
		TrustedProxies:    trusted,
		Edge:              edge,
		AccessLog:         c.accessLog,
		Tracing:           tracing,
		Interval:          *interval,
		Drain:             c.drain(),
		Log:               slog.New(slog.NewTextHandler(os.Stderr, nil)),
		Out:               os.Stdout,
		NginxConfigMap:    c.nginxConfigMap,
	})
}

func runRoutes(args []string) error { return routes(args, os.Stdout) }

// routes prints what a manifests directory would serve to w.
func routes(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("routes", flag.ExitOnError)
	var c common
	c.register(fs, false)
	dir := fs.String("manifests", "", "directory of Kubernetes YAML to translate")
	output := fs.String("o", "text", "output format: text or json")
	applied := fs.String("applied", "", "URL of a running Portico's /debug/applied (admin or metrics address): also print the table generation and time each object's latest change went live")
	_ = fs.Parse(args)
	if *dir == "" {
		return fmt.Errorf("routes: --manifests DIR is required")
	}
	snap, _, err := standalone.Load(*dir)
	if err != nil {
		return err
	}
	opts, err := c.translate()
	if err != nil {
		return err
	}
	if opts, err = standalone.WithNginxConfig(opts, snap, c.nginxConfigMap); err != nil {
		return err
	}
	opts.Now = time.Now()
	res := translate.Translate(snap, opts)
	if opts.Nginx != nil {
		res.Problems = append(res.Problems, standalone.NginxConfigProblems(snap, c.nginxConfigMap)...)
	}
	table := router.Compile(res.Config)
	translate.ApplyDrops(&res, table.Dropped())
	rep := standalone.Describe(table, &res)
	if *applied != "" {
		if rep.Applied, err = fetchApplied(*applied); err != nil {
			return err
		}
	}
	switch *output {
	case "json":
		err = rep.WriteJSON(w)
	case "text", "":
		err = rep.WriteText(w)
	default:
		return fmt.Errorf("routes: unknown output format %q (text or json)", *output)
	}
	if err != nil {
		return err
	}
	if res.HasErrors() {
		return fmt.Errorf("some objects have errors; see the status above")
	}
	return nil
}

// fetchApplied reads a running Portico's /debug/applied.
func fetchApplied(url string) ([]dataplane.Applied, error) {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, fmt.Errorf("routes: --applied: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("routes: --applied %s: %s", url, resp.Status)
	}
	var out []dataplane.Applied
	if err := json.NewDecoder(io.LimitReader(resp.Body, 256<<20)).Decode(&out); err != nil {
		return nil, fmt.Errorf("routes: --applied %s: %w", url, err)
	}
	return out, nil
}

// portOf returns the port of a host:port address, or def.
func portOf(addr string, def int) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return def
	}
	n, err := strconv.Atoi(p)
	if err != nil || n == 0 {
		return def
	}
	return n
}
