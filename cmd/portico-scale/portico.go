package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	harness "github.com/portico-dev/portico/envtest"
)

// porticoResult is Portico's column of the table.
type porticoResult struct {
	CreateSeconds   float64 `json:"create_objects_s"`
	StartReadyS     float64 `json:"start_to_ready_s"`
	StartAllServedS float64 `json:"start_to_all_served_s"`
	HostsChecked    int     `json:"hosts_checked"`
	HostsFailing    int     `json:"hosts_failing"`
	IngressCreated  stats   `json:"ingress_created"`
	SliceChanged    stats   `json:"endpointslice_changed"`
	// CreatedSplit and SliceSplit divide each change's time by the
	// controller's /debug/applied entry (see splitter).
	CreatedSplit   *split  `json:"ingress_created_split,omitempty"`
	SliceSplit     *split  `json:"endpointslice_changed_split,omitempty"`
	SecretRotated  stats   `json:"secret_rotated"`
	RSSSteadyMiB   float64 `json:"rss_steady_mib"`
	RSSPeakMiB     float64 `json:"rss_peak_during_changes_mib"`
	BurstChanges   int     `json:"burst_changes"`
	BurstApplyS    float64 `json:"burst_applied_s"`
	RequestsSent   int64   `json:"requests_sent"`
	RequestsFailed int64   `json:"requests_failed"`
	FirstFailure   string  `json:"first_failure,omitempty"`
	// ColdStarts are the interleaved cold starts of -cold-starts.
	ColdStarts []coldStart `json:"cold_starts,omitempty"`
}

// settle is how long after every host is served the steady RSS is read:
// longer than the controller's memory check interval (10 s).
const settle = 12 * time.Second

func runPortico(ctx context.Context, cp *harness.ControlPlane, binary string, n, changes, burst int) (porticoResult, error) {
	var res porticoResult
	cfg := *cp.Config
	cfg.QPS, cfg.Burst = 2000, 4000
	c, err := client.New(&cfg, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		return res, err
	}
	a, b, err := backends()
	if err != nil {
		return res, err
	}
	defer a.Close()
	defer b.Close()
	fmt.Printf("# portico: creating %d Ingresses, Services and EndpointSlices\n", n)
	t0 := time.Now()
	if err := createAll(ctx, c, n, a.IP); err != nil {
		return res, err
	}
	res.CreateSeconds = time.Since(t0).Seconds()
	// The Service new Ingresses name (backend B), and a TLS host.
	svcB, sliceB := service("sb", b.IP)
	cert, key, _ := selfSigned("tls.scale.test")
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tls"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": cert, "tls.key": key}}
	for _, o := range []client.Object{svcB, sliceB, sec, ingress("tls", "tls.scale.test", "sb", "tls")} {
		if err := c.Create(ctx, o); err != nil {
			return res, err
		}
	}

	if coldStarts > 0 {
		res.ColdStarts, err = measureColdStarts(ctx, cp, binary, n)
		return res, err
	}
	run, err := startController(ctx, cp, binary, n, porticoArgs)
	if err != nil {
		return res, err
	}
	defer run.stop()
	cmd, httpAddr, httpsAddr := run.cmd, run.httpAddr, run.httpsAddr
	res.StartReadyS, res.StartAllServedS = run.ready.Seconds(), run.allServed.Seconds()
	res.HostsChecked, res.HostsFailing = checkHosts(httpAddr, n)
	fmt.Printf("# portico: ready after %.2fs, all %d hosts served after %.2fs (%d failing)\n",
		res.StartReadyS, n, res.StartAllServedS, res.HostsFailing)

	// Steady means settled: start-up leaves garbage (the lists, decodes and
	// first translation) that the controller returns to the OS at its first
	// table and at its periodic memory check (every 10 s); measure after
	// one, so the peak below is the changes' and not start-up's.
	time.Sleep(settle)
	res.RSSSteadyMiB = rssMiB(cmd.Process.Pid)
	rss := sampleRSS(cmd.Process.Pid)
	l := startLoad(httpAddr, n, 2, 30*time.Minute)

	var created []time.Duration
	var csplit splitter
	for i := range changes {
		host := fmt.Sprintf("new%d.scale.test", i)
		t := time.Now()
		if err := c.Create(ctx, ingress(fmt.Sprintf("new%d", i), host, "sb", "")); err != nil {
			return res, err
		}
		d, err := waitFor(t, time.Minute, answers(httpAddr, host, "B"))
		if err != nil {
			return res, fmt.Errorf("new Ingress %s: %w", host, err)
		}
		created = append(created, d)
		csplit.add(run.metrics, fmt.Sprintf("Ingress/%s/new%d", ns, i), t, t.Add(d))
	}
	res.IngressCreated = summarize(created)
	res.CreatedSplit = csplit.summary()

	var moved []time.Duration
	var ssplit splitter
	for i := range changes {
		j := (i * 7919) % n // distinct Services, spread over the set
		s := slice(fmt.Sprintf("s%d", j), b.IP)
		if err := c.Get(ctx, client.ObjectKeyFromObject(s), s); err != nil {
			return res, err
		}
		s.Endpoints[0].Addresses = []string{b.IP}
		t := time.Now()
		if err := c.Update(ctx, s); err != nil {
			return res, err
		}
		d, err := waitFor(t, time.Minute, answers(httpAddr, hostName(j), "B"))
		if err != nil {
			return res, fmt.Errorf("EndpointSlice of s%d: %w", j, err)
		}
		moved = append(moved, d)
		ssplit.add(run.metrics, "EndpointSlice/"+ns+"/"+s.Name, t, t.Add(d))
	}
	res.SliceChanged = summarize(moved)
	res.SliceSplit = ssplit.summary()

	var rotated []time.Duration
	for range max(5, changes/5) {
		cert, key, serial := selfSigned("tls.scale.test")
		if err := c.Get(ctx, client.ObjectKeyFromObject(sec), sec); err != nil {
			return res, err
		}
		sec.Data = map[string][]byte{"tls.crt": cert, "tls.key": key}
		t := time.Now()
		if err := c.Update(ctx, sec); err != nil {
			return res, err
		}
		want := serial
		d, err := waitFor(t, time.Minute, func() bool {
			s, err := servedSerial(httpsAddr, "tls.scale.test")
			return err == nil && s.Cmp(want) == 0
		})
		if err != nil {
			return res, fmt.Errorf("rotated Secret: %w", err)
		}
		rotated = append(rotated, d)
	}
	res.SecretRotated = summarize(rotated)

	res.BurstChanges = burst
	t0 = time.Now()
	if err := applyBurst(ctx, c, n, burst, a.IP, b.IP); err != nil {
		return res, err
	}
	res.BurstApplyS = time.Since(t0).Seconds()
	time.Sleep(2 * time.Second)
	res.RSSPeakMiB = rss.finish()
	res.RequestsSent, res.RequestsFailed, res.FirstFailure = l.finish()
	return res, nil
}

// applyBurst flips the endpoints of burst Services between the backends
// and updates as many Ingresses' annotations, from 8 writers at once.
func applyBurst(ctx context.Context, c client.Client, n, burst int, ipA, ipB string) error {
	errs := make(chan error, burst)
	sem := make(chan struct{}, 8)
	for i := range burst {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			j := (i*104729 + 13) % n
			s := slice(fmt.Sprintf("s%d", j), ipA)
			if err := c.Get(ctx, client.ObjectKeyFromObject(s), s); err != nil {
				errs <- err
				return
			}
			if s.Endpoints[0].Addresses[0] == ipA {
				s.Endpoints[0].Addresses = []string{ipB}
			} else {
				s.Endpoints[0].Addresses = []string{ipA}
			}
			if err := c.Update(ctx, s); err != nil {
				errs <- err
			}
		}()
	}
	for range cap(sem) {
		sem <- struct{}{}
	}
	close(errs)
	return <-errs
}

// checkHosts asks every host (every 1 in n/2000, for large n) and counts
// those not answered 200 from backend A.
func checkHosts(addr string, n int) (checked, failing int) {
	step := max(1, n/2000)
	for i := 0; i < n; i += step {
		checked++
		if !answers(addr, hostName(i), "A")() {
			failing++
		}
	}
	return checked, failing
}

func freePorts(k int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	for range k {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports, nil
}

// selfSigned makes an ECDSA P-256 certificate for host with a random
// serial number.
func selfSigned(host string) (certPEM, keyPEM []byte, serial *big.Int) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), serial
}
