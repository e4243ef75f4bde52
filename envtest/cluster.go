package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ClusterOptions configure StartCluster.
type ClusterOptions struct {
	// CRDDirs are installed at start (Gateway API CRDs).
	CRDDirs []string
	// Images maps container images to local programs; see Images.
	Images Images
	// Log receives the harness's progress lines (nil: discarded).
	Log func(format string, args ...any)
}

// Cluster is a small real cluster on one machine: etcd, kube-apiserver,
// kube-controller-manager, one Node whose pods the PodRunner runs as local
// processes in network namespaces, and a loopback LoadBalancer provider.
type Cluster struct {
	*ControlPlane
	Client  client.Client
	Runner  *PodRunner
	LB      *LoadBalancers
	dir     string
	kcm     *exec.Cmd
	cancel  context.CancelFunc
	done    chan struct{}
	forward bool // ip_forward was turned on by us
}

// NodeName is the one Node of a Cluster.
const NodeName = "portico-devcluster"

// StartCluster starts everything and returns once the Node is Ready. Stop
// tears it all down; leftovers of a crashed earlier run are removed first.
func StartCluster(opts ClusterOptions) (*Cluster, error) {
	if opts.Log == nil {
		opts.Log = func(string, ...any) {}
	}
	kcmBin := filepath.Join(AssetsDir(), "kube-controller-manager")
	if _, err := os.Stat(kcmBin); err != nil {
		return nil, fmt.Errorf("kube-controller-manager missing in %s: run `PORTICO_ENVTEST_KCM=1 make envtest-bins`: %w", AssetsDir(), err)
	}
	CleanupCluster()
	if err := blackhole(); err != nil {
		return nil, err
	}
	c := &Cluster{done: make(chan struct{})}
	fail := func(err error) (*Cluster, error) { c.Stop(); return nil, err }
	var err error
	if c.dir, err = os.MkdirTemp("", "portico-devcluster-*"); err != nil {
		return fail(err)
	}
	if c.forward, err = enableForwarding(); err != nil {
		return fail(err)
	}
	opts.Log("starting etcd and kube-apiserver")
	if c.ControlPlane, err = StartControlPlane(opts.CRDDirs...); err != nil {
		return fail(err)
	}
	if c.Client, err = client.New(c.Config, client.Options{Scheme: scheme.Scheme}); err != nil {
		return fail(err)
	}
	opts.Log("starting kube-controller-manager")
	c.kcm = exec.Command(kcmBin, "--kubeconfig="+c.Kubeconfig, "--leader-elect=false", "--secure-port=0",
		"--controllers=deployment,replicaset,endpointslice,endpointslicemirroring,garbagecollector,namespace,daemonset,statefulset,job",
		"--concurrent-deployment-syncs=5", "--concurrent-replicaset-syncs=5")
	kcmLog, err := os.Create(filepath.Join(c.dir, "kube-controller-manager.log"))
	if err != nil {
		return fail(err)
	}
	c.kcm.Stdout, c.kcm.Stderr = kcmLog, kcmLog
	c.kcm.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := c.kcm.Start(); err != nil {
		return fail(fmt.Errorf("starting kube-controller-manager: %w", err))
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	if err := c.registerNode(ctx); err != nil {
		return fail(err)
	}
	c.Runner = newPodRunner(c.Client, c.ControlPlane, opts.Images, filepath.Join(c.dir, "pods"), opts.Log)
	c.LB = newLoadBalancers(c.Client, opts.Log)
	go func() {
		defer close(c.done)
		errc := make(chan error, 2)
		go func() { errc <- c.Runner.Run(ctx) }()
		go func() { errc <- c.LB.Run(ctx) }()
		for range 2 {
			if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
				opts.Log("harness loop stopped: %v", err)
			}
		}
	}()
	return c, nil
}

// registerNode creates the Node, Ready, with the runner's kubelet port.
func (c *Cluster) registerNode(ctx context.Context) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: NodeName, Labels: map[string]string{
		"kubernetes.io/hostname": NodeName, "kubernetes.io/os": "linux"}}}
	if err := c.Client.Create(ctx, node); err != nil {
		return fmt.Errorf("registering Node: %w", err)
	}
	return nil
}

// Stop tears down pods, forwarders, the control plane and temp files.
func (c *Cluster) Stop() {
	if c.cancel != nil {
		c.cancel()
		select {
		case <-c.done:
		case <-time.After(30 * time.Second):
		}
	}
	if c.Runner != nil {
		c.Runner.stopAll()
	}
	if c.LB != nil {
		c.LB.stopAll()
	}
	if c.kcm != nil && c.kcm.Process != nil {
		_ = syscall.Kill(-c.kcm.Process.Pid, syscall.SIGKILL)
		_ = c.kcm.Wait()
	}
	if c.ControlPlane != nil {
		_ = c.ControlPlane.Stop()
	}
	CleanupCluster()
	if c.forward {
		_ = os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("0"), 0o644)
	}
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
	}
}

// CleanupCluster removes the pod namespaces and veth pairs of any run,
// also of one that crashed, and the blackhole route.
func CleanupCluster() {
	cleanupFamily(podNSPrefix, podVethPrefix)
	_ = ip("route", "del", "blackhole", TestRange)
}

// enableForwarding lets pods reach each other through the root namespace
// (their traffic never leaves: TestRange is blackholed). It reports whether
// it changed the setting.
func enableForwarding() (bool, error) {
	const f = "/proc/sys/net/ipv4/ip_forward"
	b, err := os.ReadFile(f)
	if err != nil {
		return false, err
	}
	if len(b) > 0 && b[0] == '1' {
		return false, nil
	}
	return true, os.WriteFile(f, []byte("1"), 0o644)
}
