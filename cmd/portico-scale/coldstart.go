package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	harness "github.com/portico-dev/portico/envtest"
)

// Cold starts compared (-cold-starts K -cold-binaries a,b): the objects are
// created once, then each binary is started K times, interleaved (a b a b
// …), against the same API server, and only the cold start is measured.
var (
	coldStarts   int
	coldBinaries string
	coldProfile  string
)

// coldStart is one measured start of one binary.
type coldStart struct {
	Binary     string  `json:"binary"`
	Round      int     `json:"round"`
	ReadyS     float64 `json:"start_to_ready_s"`
	AllServedS float64 `json:"start_to_all_served_s"`
	LoadAvg    string  `json:"loadavg"`
}

// controllerRun is one started `portico controller` process.
type controllerRun struct {
	cmd                 *exec.Cmd
	httpAddr, httpsAddr string
	health, pprof       string
	metrics             string
	ready, allServed    time.Duration
	profile             chan error
}

// startController starts binary against cp and waits until /readyz passes
// and the last of the n hosts answers from backend A. With profileTo set
// (and a binary that has --pprof-addr) it records a CPU profile of the
// first seconds into that file.
func startController(ctx context.Context, cp *harness.ControlPlane, binary string, n int, extra string, profileTo ...string) (*controllerRun, error) {
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	r := &controllerRun{httpAddr: fmt.Sprintf("127.0.0.1:%d", ports[0]), httpsAddr: fmt.Sprintf("127.0.0.1:%d", ports[1]),
		health: fmt.Sprintf("127.0.0.1:%d", ports[2]), pprof: fmt.Sprintf("127.0.0.1:%d", ports[4]),
		metrics: fmt.Sprintf("127.0.0.1:%d", ports[3])}
	args := []string{"controller", "--kubeconfig", cp.Kubeconfig,
		"--http-addr", r.httpAddr, "--https-addr", r.httpsAddr, "--health-addr", r.health,
		"--metrics-addr", r.metrics, "--gateway-controller-name", "", "--istio", "false",
		"--shutdown-delay", "0s", "--zap-log-level", "error"}
	if len(profileTo) > 0 && profileTo[0] != "" {
		args = append(args, "--pprof-addr", r.pprof)
	}
	r.cmd = exec.CommandContext(ctx, binary, append(args, strings.Fields(extra)...)...)
	r.cmd.Stdout, r.cmd.Stderr = os.Stderr, os.Stderr
	t0 := time.Now()
	if err := r.cmd.Start(); err != nil {
		return nil, err
	}
	if len(profileTo) > 0 && profileTo[0] != "" {
		r.profile = make(chan error, 1)
		go func() { r.profile <- fetchProfile(r.pprof, profileTo[0]) }()
	}
	ready := func() bool {
		resp, err := http.Get("http://" + r.health + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}
	if r.ready, err = waitFor(t0, 10*time.Minute, ready); err != nil {
		r.stop()
		return nil, fmt.Errorf("/readyz: %w", err)
	}
	if r.allServed, err = waitFor(t0, 10*time.Minute, answers(r.httpAddr, hostName(n-1), "A")); err != nil {
		r.stop()
		return nil, fmt.Errorf("last host: %w", err)
	}
	return r, nil
}

// stop interrupts the process and waits for it (and for its profile).
func (r *controllerRun) stop() {
	if r.profile != nil {
		if err := <-r.profile; err != nil {
			fmt.Fprintln(os.Stderr, "portico-scale: CPU profile:", err)
		}
		r.profile = nil
	}
	_ = r.cmd.Process.Signal(os.Interrupt)
	_ = r.cmd.Wait()
}

// fetchProfile asks the pprof address, as soon as it answers, for a CPU
// profile of the next 8 seconds and writes it to file.
func fetchProfile(addr, file string) error {
	c := &http.Client{Timeout: 30 * time.Second}
	for t0 := time.Now(); time.Since(t0) < time.Minute; time.Sleep(5 * time.Millisecond) {
		resp, err := c.Get("http://" + addr + "/debug/pprof/profile?seconds=8")
		if err != nil {
			continue
		}
		defer resp.Body.Close()
		f, err := os.Create(file)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, resp.Body); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return fmt.Errorf("no pprof server at %s", addr)
}

// measureColdStarts starts each of -cold-binaries (default: binary)
// coldStarts times, interleaved, and prints each start and the medians.
// The first binary's first start is profiled when -cold-profile is set.
func measureColdStarts(ctx context.Context, cp *harness.ControlPlane, binary string, n int) ([]coldStart, error) {
	bins := strings.Split(coldBinaries, ",")
	if coldBinaries == "" {
		bins = []string{binary}
	}
	var out []coldStart
	for round := range coldStarts {
		for i, b := range bins {
			prof := ""
			if round == 0 && i == 0 {
				prof = coldProfile
			}
			r, err := startController(ctx, cp, b, n, porticoArgs, prof)
			if err != nil {
				return out, fmt.Errorf("%s: %w", b, err)
			}
			r.stop()
			cs := coldStart{Binary: b, Round: round, ReadyS: r.ready.Seconds(), AllServedS: r.allServed.Seconds(), LoadAvg: loadAvg()}
			fmt.Printf("# cold start %d of %s: ready %.2fs, all served %.2fs (load %s)\n", round, b, cs.ReadyS, cs.AllServedS, cs.LoadAvg)
			out = append(out, cs)
			time.Sleep(time.Second)
		}
	}
	for _, b := range bins {
		var all []float64
		for _, c := range out {
			if c.Binary == b {
				all = append(all, c.AllServedS)
			}
		}
		slices.Sort(all)
		fmt.Printf("# %s: all served after %v s (median %.2f)\n", b, all, all[len(all)/2])
	}
	return out, nil
}
