package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	harness "github.com/portico-dev/portico/envtest"
)

// backends runs the two test backends, "A" and "B", each in its own test
// network namespace (the API server accepts no loopback endpoints).
func backends() (a, b *harness.Host, err error) {
	for i, name := range []string{"A", "B"} {
		h, err := harness.NewHost(1 + i)
		if err != nil {
			return nil, nil, err
		}
		ln, err := h.Listen(8080)
		if err != nil {
			h.Close()
			return nil, nil, err
		}
		go func() { _ = http.Serve(ln, echo(name)) }() //nolint:gosec // a benchmark backend on a test namespace
		if i == 0 {
			a = h
		} else {
			b = h
		}
	}
	return a, b, nil
}

func echo(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "%s %s", name, r.URL.Path) })
}

// nginxResult is nginx's column: N server blocks, each proxying to a
// backend, changed by rewriting the configuration and reloading (SIGHUP),
// which is what ingress-nginx does.
type nginxResult struct {
	ConfigCheckS    float64 `json:"config_check_s"`
	StartAllServedS float64 `json:"start_to_all_served_s"`
	RSSSteadyMiB    float64 `json:"rss_steady_mib"`
	RSSPeakMiB      float64 `json:"rss_peak_during_reloads_mib"`
	HostAdded       stats   `json:"host_added_reload"`
}

func runNginx(n, reloads int) (nginxResult, error) {
	var res nginxResult
	if _, err := exec.LookPath("nginx"); err != nil {
		return res, fmt.Errorf("nginx not found (apt-get install nginx): %w", err)
	}
	be, err := listenEcho("A")
	if err != nil {
		return res, err
	}
	nb, err := listenEcho("B")
	if err != nil {
		return res, err
	}
	ports, err := freePorts(1)
	if err != nil {
		return res, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	dir, err := os.MkdirTemp("", "portico-scale-nginx-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	conf := filepath.Join(dir, "nginx.conf")
	write := func(extra int) error {
		var sb strings.Builder
		fmt.Fprintf(&sb, "worker_processes 1; daemon off; pid %s/nginx.pid; error_log %s/err.log;\n", dir, dir)
		fmt.Fprintf(&sb, "events { worker_connections 1024; }\nhttp { access_log off; server_names_hash_max_size 1048576; server_names_hash_bucket_size 128;\n")
		fmt.Fprintf(&sb, "upstream be { server %s; keepalive 16; }\nupstream nb { server %s; keepalive 16; }\n", be, nb)
		for i := range n {
			fmt.Fprintf(&sb, "server { listen %s; server_name %s; location / { proxy_pass http://be; } }\n", addr, hostName(i))
		}
		for i := range extra {
			fmt.Fprintf(&sb, "server { listen %s; server_name new%d.scale.test; location / { proxy_pass http://nb; } }\n", addr, i)
		}
		sb.WriteString("}\n")
		return os.WriteFile(conf, []byte(sb.String()), 0o644)
	}
	if err := write(0); err != nil {
		return res, err
	}
	t0 := time.Now()
	if out, err := exec.Command("nginx", "-t", "-c", conf, "-p", dir).CombinedOutput(); err != nil {
		return res, fmt.Errorf("nginx -t: %w: %s", err, out)
	}
	res.ConfigCheckS = time.Since(t0).Seconds()
	cmd := exec.Command("nginx", "-c", conf, "-p", dir)
	t0 = time.Now()
	if err := cmd.Start(); err != nil {
		return res, err
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGQUIT); _ = cmd.Wait() }()
	d, err := waitFor(t0, 10*time.Minute, answers(addr, hostName(n-1), "A"))
	if err != nil {
		return res, err
	}
	res.StartAllServedS = d.Seconds()
	time.Sleep(time.Second)
	res.RSSSteadyMiB = rssMiB(cmd.Process.Pid)
	rss := sampleRSS(cmd.Process.Pid)
	var added []time.Duration
	for i := range reloads {
		if err := write(i + 1); err != nil {
			return res, err
		}
		t := time.Now()
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			return res, err
		}
		d, err := waitFor(t, 10*time.Minute, answers(addr, fmt.Sprintf("new%d.scale.test", i), "B"))
		if err != nil {
			return res, fmt.Errorf("reload %d: %w", i, err)
		}
		added = append(added, d)
		time.Sleep(time.Second) // old workers finish
	}
	res.RSSPeakMiB = rss.finish()
	res.HostAdded = summarize(added)
	return res, nil
}

func listenEcho(name string) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go func() { _ = http.Serve(ln, echo(name)) }() //nolint:gosec // a benchmark backend on loopback
	return ln.Addr().String(), nil
}

// printTable prints the table: one row per measure, nginx beside
// Portico.
func printTable(r result) {
	p := r.Portico
	fmt.Printf("\n# control plane at %d Ingresses (%s)\n", r.N, r.Time)
	fmt.Println("| measure | nginx (reload) | Portico |")
	fmt.Println("|---|---|---|")
	ng := func(f func(*nginxResult) string) string {
		if r.Nginx == nil {
			return "—"
		}
		return f(r.Nginx)
	}
	pct := func(s stats) string { return fmt.Sprintf("%.1f / %.1f ms (max %.1f, n=%d)", s.P50, s.P99, s.Max, s.N) }
	fmt.Printf("| one Ingress created → host answers from its backend, p50 / p99 | %s | %s |\n",
		ng(func(n *nginxResult) string { return "one host added + reload: " + pct(n.HostAdded) }), pct(p.IngressCreated))
	fmt.Printf("| one EndpointSlice changed → new endpoint gets the traffic, p50 / p99 | %s | %s |\n",
		ng(func(*nginxResult) string { return "(a reload, as above)" }), pct(p.SliceChanged))
	fmt.Printf("| a Secret rotated → next handshake serves it, p50 / p99 | %s | %s |\n",
		ng(func(*nginxResult) string { return "(a reload, as above)" }), pct(p.SecretRotated))
	fmt.Printf("| RSS steady / peak during changes | %s | %.0f / %.0f MiB (%d changes in %.1f s) |\n",
		ng(func(n *nginxResult) string { return fmt.Sprintf("%.0f / %.0f MiB", n.RSSSteadyMiB, n.RSSPeakMiB) }),
		p.RSSSteadyMiB, p.RSSPeakMiB, p.BurstChanges, p.BurstApplyS)
	fmt.Printf("| cold start → every host served | %s | %.2f s (/readyz after %.2f s) |\n",
		ng(func(n *nginxResult) string {
			return fmt.Sprintf("%.2f s (nginx -t %.2f s)", n.StartAllServedS, n.ConfigCheckS)
		}),
		p.StartAllServedS, p.StartReadyS)
	fmt.Printf("| requests failed while the changes applied | — | %d of %d %s |\n", p.RequestsFailed, p.RequestsSent, p.FirstFailure)
}
