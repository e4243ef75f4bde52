package edgetest

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Package that holds Portico's main command.
const porticoPkg = "github.com/portico-dev/portico/cmd/portico"

// BinaryEnv names an environment variable that, when set, is the path of an
// already built portico binary to use instead of building one (development
// only; `make test-edge` always builds).
const BinaryEnv = "PORTICO_EDGE_BINARY"

// Timeouts of the harness.
const (
	// BuildTimeout bounds `go build ./cmd/portico` in Main (a cold build of
	// the module takes minutes on a 2-core machine).
	BuildTimeout = 8 * time.Minute
	// ReadyTimeout bounds how long Start waits for the listeners to be bound
	// and /readyz to answer 200.
	ReadyTimeout = 30 * time.Second
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL.
	StopTimeout = 10 * time.Second
	// logTail is how much of Portico's output is put into a failed test's log.
	logTail = 48 << 10
	// logMax bounds the output kept in memory per process.
	logMax = 4 << 20
)

var (
	binMu   sync.Mutex
	binPath string
	binErr  error
	binDir  string
)

// Main is called from TestMain: it builds the portico binary once into a
// temporary directory, raises -test.parallel to 8 unless it was given (the
// parallel edge tests mostly wait on timeouts), runs the tests and removes
// the binary. A build failure fails the whole run with the compiler output.
//
//	func TestMain(m *testing.M) { os.Exit(edgetest.Main(m)) }
func Main(m *testing.M) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	parallelSet := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "test.parallel" {
			parallelSet = true
		}
	})
	if !parallelSet {
		_ = flag.Set("test.parallel", "8")
	}
	start := time.Now()
	if _, err := binary(); err != nil {
		fmt.Fprintf(os.Stderr, "edgetest: FAIL: cannot build portico: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "edgetest: portico binary %s ready in %s\n", binPath, time.Since(start).Round(time.Millisecond))
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	return code
}

// Binary returns the path of the portico binary, building it on first use.
func Binary(t testing.TB) string {
	t.Helper()
	p, err := binary()
	if err != nil {
		t.Fatalf("edgetest: no portico binary: %v", err)
	}
	return p
}

func binary() (string, error) {
	binMu.Lock()
	defer binMu.Unlock()
	if binPath != "" || binErr != nil {
		return binPath, binErr
	}
	if p := os.Getenv(BinaryEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			binErr = fmt.Errorf("%s=%s: %w", BinaryEnv, p, err)
			return "", binErr
		}
		binPath = p
		return p, nil
	}
	dir, err := os.MkdirTemp("", "portico-edge-bin-")
	if err != nil {
		binErr = err
		return "", err
	}
	binDir = dir
	out := filepath.Join(dir, "portico")
	ctx, cancel := context.WithTimeout(context.Background(), BuildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, porticoPkg)
	b, err := cmd.CombinedOutput()
	if err != nil {
		binErr = fmt.Errorf("go build -o %s %s: %w\n%s", out, porticoPkg, err, b)
		return "", binErr
	}
	binPath = out
	return out, nil
}

// Portico is one running `portico standalone` process.
type Portico struct {
	// HTTPAddr, HTTPSAddr and AdminAddr are the bound listener addresses
	// (127.0.0.1:port).
	HTTPAddr  string
	HTTPSAddr string
	AdminAddr string
	// Dir is the manifests directory Portico serves (WriteManifests adds to it).
	Dir string
	// Args are the arguments after `portico`.
	Args []string

	t        testing.TB
	cmd      *exec.Cmd
	out      *logBuffer
	exited   chan struct{}
	exitErr  error
	stopOnce sync.Once
}

// Start writes manifests (file name -> YAML) into a new temporary directory
// and starts `portico standalone` on it with the HTTP, HTTPS and admin
// listeners on 127.0.0.1 port 0, then waits until every listener is bound
// and /readyz answers 200. extraArgs are appended (a repeated flag overrides
// the default). The process is stopped when the test ends; its output goes
// into the test log if the test failed. Any problem is fatal to the test.
func Start(t testing.TB, manifests map[string]string, extraArgs ...string) *Portico {
	t.Helper()
	p, err := TryStart(t, manifests, extraArgs...)
	if err != nil {
		t.Fatalf("edgetest: starting portico: %v", err)
	}
	return p
}

// TryStart is Start returning the error (with Portico's output) instead of
// failing the test, for tests that check how Portico refuses to start, such
// as an unknown flag.
func TryStart(t testing.TB, manifests map[string]string, extraArgs ...string) (*Portico, error) {
	t.Helper()
	bin, err := binary()
	if err != nil {
		return nil, err
	}
	dir := t.TempDir()
	if err := writeFiles(dir, manifests); err != nil {
		return nil, err
	}
	args := []string{"standalone",
		"--manifests", dir,
		"--http-addr", "127.0.0.1:0",
		"--https-addr", "127.0.0.1:0",
		"--admin-addr", "127.0.0.1:0",
		"--reload-interval", "200ms",
		"--shutdown-delay", "0s",
		"--shutdown-grace", "2s",
	}
	args = append(args, extraArgs...)
	p := &Portico{Dir: dir, Args: args, t: t, out: &logBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("exec %s: %w", bin, err)
	}
	go func() {
		p.exitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("portico %s (pid %d) output, last %d KiB:\n%s", strings.Join(p.Args, " "), p.PID(), logTail>>10, p.out.Tail(logTail))
		}
	})
	if err := p.waitReady(); err != nil {
		p.Stop()
		return nil, fmt.Errorf("%w\nportico %s output:\n%s", err, strings.Join(args, " "), p.out.Tail(logTail))
	}
	return p, nil
}

var listeningRe = regexp.MustCompile(`msg="?(?:gateway )?listening"? listener=("[^"]*"|\S+) address=(\S+)`)

// Listening returns the address each listener was bound to, by listener
// name ("http", "https", "admin", or a Gateway listener key), from
// Portico's log.
func (p *Portico) Listening() map[string]string {
	out := map[string]string{}
	for _, m := range listeningRe.FindAllStringSubmatch(p.out.String(), -1) {
		out[strings.Trim(m[1], `"`)] = m[2]
	}
	return out
}

func (p *Portico) waitReady() error {
	deadline := time.Now().Add(ReadyTimeout)
	want := map[string]*string{"http": &p.HTTPAddr, "https": &p.HTTPSAddr, "admin": &p.AdminAddr}
	for {
		got := p.Listening()
		missing := []string{}
		for name, dst := range want {
			if a, ok := got[name]; ok {
				*dst = a
			} else {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 {
			break
		}
		if err := p.Alive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("listeners %v not bound within %s", missing, ReadyTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	client := &http.Client{Timeout: 2 * time.Second}
	var last string
	for {
		resp, err := client.Get("http://" + p.AdminAddr + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
		} else {
			last = err.Error()
		}
		if err := p.Alive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("/readyz on %s not 200 within %s (last: %s)", p.AdminAddr, ReadyTimeout, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// PID is the process id.
func (p *Portico) PID() int {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Alive returns nil while the process runs, else how it ended.
func (p *Portico) Alive() error {
	select {
	case <-p.exited:
		return fmt.Errorf("portico exited: %w", p.exitErr)
	default:
		return nil
	}
}

// CheckAlive fails the test if Portico is no longer running (a crash under
// attack is always a failure).
func (p *Portico) CheckAlive(t testing.TB) {
	t.Helper()
	if err := p.Alive(); err != nil {
		t.Fatalf("%v\nlast output:\n%s", err, p.out.Tail(8<<10))
	}
}

// Output returns everything Portico wrote to stdout and stderr so far (the
// last 4 MiB at most).
func (p *Portico) Output() string { return p.out.String() }

// WaitOutput waits up to d for substr to appear in Portico's output.
func (p *Portico) WaitOutput(t testing.TB, substr string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(p.out.String(), substr) {
		if time.Now().After(deadline) {
			t.Fatalf("portico did not print %q within %s", substr, d)
		}
		p.CheckAlive(t)
		time.Sleep(25 * time.Millisecond)
	}
}

// WaitListening waits up to d until addr (host:port, such as a Gateway
// listener's) accepts TCP connections.
func (p *Portico) WaitListening(t testing.TB, addr string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		p.CheckAlive(t)
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s within %s: %v", addr, d, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// WriteManifests writes (or replaces) files in Dir; Portico reloads them
// within its --reload-interval (200ms).
func (p *Portico) WriteManifests(t testing.TB, files map[string]string) {
	t.Helper()
	if err := writeFiles(p.Dir, files); err != nil {
		t.Fatal(err)
	}
}

// Stop sends SIGTERM and waits for the process to exit, killing it after
// StopTimeout. It is safe to call more than once.
func (p *Portico) Stop() {
	p.stopOnce.Do(func() {
		if p.cmd == nil || p.cmd.Process == nil {
			return
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(StopTimeout):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
}

// RSS returns the process's resident set size in bytes (VmRSS of
// /proc/PID/status), or -1 if it cannot be read.
func (p *Portico) RSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID()))
	if err != nil {
		return -1
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb << 10
				}
			}
		}
	}
	return -1
}

// FDs returns the number of open file descriptors of the process (entries
// of /proc/PID/fd), or -1 if they cannot be read.
func (p *Portico) FDs() int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.PID()))
	if err != nil {
		return -1
	}
	return len(ents)
}

// Metrics returns the admin address's /metrics text.
func (p *Portico) Metrics(t testing.TB) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + p.AdminAddr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		t.Fatalf("reading /metrics: %v", err)
	}
	return string(b)
}

func writeFiles(dir string, files map[string]string) error {
	for name, content := range files {
		if name == "" || strings.Contains(name, "..") || filepath.IsAbs(name) {
			return fmt.Errorf("edgetest: bad manifest file name %q", name)
		}
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		// Write then rename so that a reloading Portico never reads half a file.
		tmp := path + ".tmp~"
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	return nil
}

// logBuffer keeps a process's output, at most logMax bytes (the newest).
type logBuffer struct {
	mu      sync.Mutex
	b       []byte
	dropped int64
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	if len(l.b) > logMax {
		n := len(l.b) - logMax/2
		l.dropped += int64(n)
		l.b = append(l.b[:0:0], l.b[n:]...)
	}
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}

// Tail returns the last n bytes, starting at a line boundary.
func (l *logBuffer) Tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.b) <= n && l.dropped == 0 {
		return string(l.b)
	}
	s := l.b
	if len(s) > n {
		s = s[len(s)-n:]
	}
	if i := strings.IndexByte(string(s), '\n'); i >= 0 && i+1 < len(s) {
		s = s[i+1:]
	}
	return "[… earlier output left out …]\n" + string(s)
}
