package harness

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	certs "github.com/portico-dev/portico/tls"
)

// PebbleVersion is the Pebble release `make tools` installs.
const PebbleVersion = "v2.10.1"

// Pebble is a running Pebble ACME test server on loopback.
type Pebble struct {
	// Directory is the ACME directory URL.
	Directory string
	// RootsFile holds the PEM certificate of Pebble's HTTPS endpoint.
	RootsFile string
	cmd       *exec.Cmd
	dns       *DNSServer
	dir       string
}

// PebbleOptions configure the validation ports and certificate lifetimes.
type PebbleOptions struct {
	// HTTPPort and TLSPort are where Pebble validates HTTP-01 and
	// TLS-ALPN-01 challenges, on 127.0.0.1 (its DNS answers every name
	// with 127.0.0.1).
	HTTPPort, TLSPort int
	// ShortLived is the validity, in seconds, of the "shortlived" profile.
	ShortLived int
}

// PebbleBinary finds pebble on PATH or in ~/.cache/portico/bin.
func PebbleBinary() (string, error) {
	if p, err := exec.LookPath("pebble"); err == nil {
		return p, nil
	}
	home, _ := os.UserHomeDir()
	p := filepath.Join(home, ".cache", "portico", "bin", "pebble")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("pebble not found on PATH or at %s: run `make tools` (go install github.com/letsencrypt/pebble/v2/cmd/pebble@%s)", p, PebbleVersion)
	}
	return p, nil
}

// StartPebble starts Pebble with a DNS responder that resolves every name
// to 127.0.0.1, so challenges are validated against Portico's own
// loopback listeners.
func StartPebble(opts PebbleOptions) (*Pebble, error) {
	bin, err := PebbleBinary()
	if err != nil {
		return nil, err
	}
	p := &Pebble{}
	if p.dir, err = os.MkdirTemp("", "portico-pebble-"); err != nil {
		return nil, err
	}
	if p.dns, err = ServeDNS("127.0.0.1:0", &[4]byte{127, 0, 0, 1}); err != nil {
		p.Stop()
		return nil, err
	}
	// Pebble's HTTPS certificate names 127.0.0.1, where it listens.
	cert, err := certs.SelfSignedFor([]string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		p.Stop()
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	keyDER, _ := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	p.RootsFile = filepath.Join(p.dir, "roots.pem")
	for name, data := range map[string][]byte{"roots.pem": certPEM, "cert.pem": certPEM, "key.pem": keyPEM} {
		if err := os.WriteFile(filepath.Join(p.dir, name), data, 0o600); err != nil {
			p.Stop()
			return nil, err
		}
	}
	listen, mgmt := freePort(), freePort()
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":           fmt.Sprintf("127.0.0.1:%d", listen),
		"managementListenAddress": fmt.Sprintf("127.0.0.1:%d", mgmt),
		"certificate":             filepath.Join(p.dir, "cert.pem"),
		"privateKey":              filepath.Join(p.dir, "key.pem"),
		"httpPort":                opts.HTTPPort,
		"tlsPort":                 opts.TLSPort,
		"ocspResponderURL":        "",
		"retryAfter":              map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm":            "ecdsa",
		"profiles": map[string]any{
			"default":    map[string]any{"description": "default", "validityPeriod": 7776000},
			"shortlived": map[string]any{"description": "short-lived, for renewal tests", "validityPeriod": opts.ShortLived},
		},
	}}
	data, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(p.dir, "pebble.json")
	if err := os.WriteFile(cfgFile, data, 0o600); err != nil {
		p.Stop()
		return nil, err
	}
	p.cmd = exec.Command(bin, "-config", cfgFile, "-dnsserver", p.dns.Addr())
	p.cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	logf, _ := os.Create(filepath.Join(p.dir, "pebble.log"))
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		p.Stop()
		return nil, fmt.Errorf("starting pebble: %w", err)
	}
	p.Directory = fmt.Sprintf("https://127.0.0.1:%d/dir", listen)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for i := 0; i < 100; i++ {
		if resp, err := hc.Get(p.Directory); err == nil {
			resp.Body.Close()
			return p, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.Stop()
	return nil, fmt.Errorf("pebble did not start; see %s", filepath.Join(p.dir, "pebble.log"))
}

// Log returns what Pebble printed.
func (p *Pebble) Log() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "pebble.log"))
	return string(b)
}

// Stop ends Pebble and its DNS responder and removes their files.
func (p *Pebble) Stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
	if p.dns != nil {
		p.dns.Close()
	}
	os.RemoveAll(p.dir)
}

func freePort() int {
	// Below the kernel's ephemeral range (32768-60999 by default), so that
	// no connection or ":0" listener of a concurrently running test package
	// can take the port between this check and its use.
	for range 200 {
		p := 12000 + rand.IntN(8000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err == nil {
			l.Close()
			return p
		}
	}
	return 0
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() int { return freePort() }
