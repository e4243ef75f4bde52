package harness

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// KubernetesVersion is the control-plane version the tests run against.
const KubernetesVersion = "1.37.2"

// AssetsDir is where `make envtest-bins` puts the control-plane binaries:
// $KUBEBUILDER_ASSETS, else ~/.cache/portico/k8s-<version>.
func AssetsDir() string {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "portico", "k8s-"+KubernetesVersion)
}

// ControlPlane is a running kube-apiserver and etcd.
type ControlPlane struct {
	Env    *envtest.Environment
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file for kubectl, with
	// cluster-admin rights.
	Kubeconfig string
}

// StartControlPlane starts etcd and kube-apiserver from AssetsDir and
// installs the CRDs found in crdDirs. It fails with instructions when the
// binaries are missing; it never skips.
func StartControlPlane(crdDirs ...string) (*ControlPlane, error) {
	dir := AssetsDir()
	for _, b := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return nil, fmt.Errorf("control-plane binary %s missing in %s: run `make envtest-bins` "+
				"(or set KUBEBUILDER_ASSETS): %w", b, dir, err)
		}
	}
	env := &envtest.Environment{BinaryAssetsDirectory: dir, CRDDirectoryPaths: crdDirs, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd: %w", err)
	}
	cp := &ControlPlane{Env: env, Config: cfg}
	user, err := env.AddUser(envtest.User{Name: "portico-test-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("adding admin user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	f, err := os.CreateTemp("", "portico-kubeconfig-*")
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	if _, err := f.Write(kc); err != nil {
		_ = env.Stop()
		return nil, err
	}
	f.Close()
	cp.Kubeconfig = f.Name()
	return cp, nil
}

// Stop stops the control plane and removes its files.
func (cp *ControlPlane) Stop() error {
	os.Remove(cp.Kubeconfig)
	return cp.Env.Stop()
}
