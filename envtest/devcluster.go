package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// DevOptions configure StartDevCluster.
type DevOptions struct {
	// Root is the repository (for manifests/ and the builds).
	Root string
	// DeployPortico applies manifests/ (Gateway API CRDs and Portico).
	DeployPortico bool
	// Manifests is the kustomize directory deployed (default manifests/base).
	Manifests string
	// ImageLayout, if set, is an OCI image layout from `make image`: Portico's
	// pods then run the image's own linux/GOARCH root filesystem (unpacked,
	// chrooted) instead of the host build.
	ImageLayout string
	// Log receives progress lines (nil: discarded).
	Log func(string, ...any)
}

// StartDevCluster builds the local programs, starts a Cluster with the
// Gateway API experimental CRDs and, if asked, deploys Portico from
// manifests/ and waits until its pod is Ready.
func StartDevCluster(ctx context.Context, o DevOptions) (*Cluster, error) {
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return nil, err
	}
	home, _ := os.UserHomeDir()
	o.Log("building echo-basic, portico and the devcluster helpers")
	images, err := BuildImages(root, filepath.Join(home, ".cache", "portico", "devcluster-bin"))
	if err != nil {
		return nil, err
	}
	if o.ImageLayout != "" {
		o.Log("unpacking Portico's image from %s", o.ImageLayout)
		p, err := ImageProgram(o.ImageLayout, runtime.GOARCH, filepath.Join(home, ".cache", "portico", "devcluster-rootfs"))
		if err != nil {
			return nil, err
		}
		images[PorticoImage] = p
	}
	c, err := StartCluster(ClusterOptions{CRDDirs: []string{filepath.Join(root, "manifests/gateway-api/experimental")},
		Images: images, Log: o.Log})
	if err != nil {
		return nil, err
	}
	if !o.DeployPortico {
		return c, nil
	}
	if o.Manifests == "" {
		o.Manifests = filepath.Join(root, "manifests/base")
	}
	o.Log("deploying Portico from %s", o.Manifests)
	cmd := exec.CommandContext(ctx, "kubectl", "apply", "--server-side", "-k", o.Manifests)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig)
	if out, err := cmd.CombinedOutput(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("kubectl apply -k %s: %w: %s", o.Manifests, err, out)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var d appsv1.Deployment
		err := c.Client.Get(ctx, client.ObjectKey{Namespace: "portico-system", Name: "portico"}, &d)
		if err == nil && d.Status.ReadyReplicas > 0 {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			logs := c.podLogs()
			c.Stop()
			return nil, fmt.Errorf("portico's Deployment did not become ready (ready replicas %d, last error: %w); pod logs:\n%s",
				d.Status.ReadyReplicas, err, logs)
		}
		time.Sleep(500 * time.Millisecond)
	}
	o.Log("Portico is ready")
	return c, nil
}

// podLogs returns the last lines of every container log, for errors.
func (c *Cluster) podLogs() string {
	files, _ := filepath.Glob(filepath.Join(c.dir, "pods", "*", "*.log"))
	var b strings.Builder
	for _, f := range files {
		data, _ := os.ReadFile(f)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		fmt.Fprintf(&b, "== %s\n%s\n", f, strings.Join(lines[max(0, len(lines)-20):], "\n"))
	}
	return b.String()
}
