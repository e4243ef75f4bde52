// Command portico-scale measures Portico's control plane at N Ingresses on a
// real kube-apiserver (the envtest control plane), beside nginx reloading
// the same N virtual hosts (what ingress-nginx does on every change):
//
//	portico-scale -n 10000 -portico bin/portico [-changes 100] [-burst 1000] [-out bench/results]
//	portico-scale -n 10000 -skip-nginx -cold-starts 3 -cold-binaries bin/portico,/tmp/old/portico
//
// It creates N Ingresses (one host, one path, one headless Service and one
// EndpointSlice each, the endpoints in a test network namespace), starts
// `portico controller` as a process against them, and measures, with a load
// generator running against existing hosts throughout:
//   - cold start: process start to /readyz, and to every host served;
//   - one Ingress created until its host answers from its backend (p50/p99);
//   - one EndpointSlice changed until the new endpoint gets the traffic;
//   - a TLS Secret rotated until the next handshake serves it;
//   - the controller's RSS, steady and peak during a burst of changes;
//   - requests that failed while the changes applied.
//
// With -cold-starts K it measures only the cold start, K times per binary
// of -cold-binaries, interleaved, against objects created once.
//
// It needs root (network namespaces), iproute2, nginx and the control-plane
// binaries (`make envtest-bins`). `make bench-scale N=10000` runs it. All
// traffic stays on loopback and in 198.18.0.0/15 (blackholed first).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	harness "github.com/portico-dev/portico/envtest"
)

func main() {
	n := flag.Int("n", 10000, "Ingresses (hosts) to create")
	changes := flag.Int("changes", 100, "timed changes of each kind (Ingress created, EndpointSlice changed; a fifth as many Secret rotations)")
	burst := flag.Int("burst", 1000, "changes applied at once for the memory and failed-request rows")
	portico := flag.String("portico", "bin/portico", "portico binary")
	out := flag.String("out", "bench/results", "directory for the JSON result")
	skipNginx := flag.Bool("skip-nginx", false, "leave out nginx's reference column")
	flag.StringVar(&porticoArgs, "portico-args", "", "extra flags for `portico controller`, space-separated (e.g. \"--heap-headroom 10\")")
	flag.IntVar(&coldStarts, "cold-starts", 0, "only compare cold starts: start each of -cold-binaries this many times, interleaved, against the same objects")
	flag.StringVar(&coldBinaries, "cold-binaries", "", "comma-separated portico binaries for -cold-starts (default: -portico)")
	flag.StringVar(&coldProfile, "cold-profile", "", "with -cold-starts: write a CPU profile of the first binary's first start (its first 8 s; needs --pprof-addr) to this file")
	flag.Parse()
	ctrllog.SetLogger(logr.Discard()) // the client's; Portico logs itself
	if err := run(*n, *changes, *burst, *portico, *out, *skipNginx); err != nil {
		fmt.Fprintln(os.Stderr, "portico-scale:", err)
		os.Exit(1)
	}
}

// result is one run, as printed and written to JSON.
type result struct {
	Time string `json:"time"`
	N    int    `json:"n"`
	// PorticoArgs are the extra controller flags; LoadAvg the machine's
	// load averages (1, 5, 15 min) when the run started and ended.
	PorticoArgs string        `json:"portico_args,omitempty"`
	LoadAvg     [2]string     `json:"loadavg_start_end"`
	Portico     porticoResult `json:"portico"`
	Nginx       *nginxResult  `json:"nginx,omitempty"`
}

func run(n, changes, burst int, portico, out string, skipNginx bool) error {
	res := result{Time: time.Now().UTC().Format(time.RFC3339), N: n, PorticoArgs: porticoArgs}
	res.LoadAvg[0] = loadAvg()
	if !skipNginx {
		fmt.Printf("# nginx: %d server blocks\n", n)
		nr, err := runNginx(n, max(3, changes/20))
		if err != nil {
			return fmt.Errorf("nginx: %w", err)
		}
		res.Nginx = &nr
	}
	if err := harness.SetupNetwork(); err != nil {
		return err
	}
	defer harness.CleanupNetwork()
	cp, err := harness.StartControlPlane()
	if err != nil {
		return err
	}
	defer func() { _ = cp.Stop() }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancel()
	pr, err := runPortico(ctx, cp, portico, n, changes, burst)
	if err != nil {
		return fmt.Errorf("portico: %w", err)
	}
	res.Portico = pr
	res.LoadAvg[1] = loadAvg()
	if coldStarts == 0 {
		printTable(res)
	}
	fmt.Printf("# load average (1/5/15 min) at start: %s, at end: %s\n", res.LoadAvg[0], res.LoadAvg[1])
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	name := filepath.Join(out, fmt.Sprintf("scale-%s-n%d.json", time.Now().UTC().Format("20060102T150405Z"), n))
	b, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(name, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Println("# written to", name)
	return nil
}

// porticoArgs are extra flags for the controller (-portico-args).
var porticoArgs string

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}
