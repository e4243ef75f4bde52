package harness

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func kubectl(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("kubectl")
	if err != nil {
		path = filepath.Join(AssetsDir(), "kubectl")
		if _, serr := os.Stat(path); serr != nil {
			t.Fatalf("this test needs kubectl on PATH or in %s (`make envtest-bins` builds it): %v", AssetsDir(), err)
		}
	}
	cmd := exec.Command(path, append([]string{"--kubeconfig", cp.Kubeconfig}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// TestManifestsApply renders the kustomize base and the NodePort overlay and
// applies them to the real API server: server-side dry-run for both, then
// for real for the base.
func TestManifestsApply(t *testing.T) {
	for _, dir := range []string{"../manifests/base", "../manifests/overlays/nodeport"} {
		rendered := kubectl(t, nil, "kustomize", dir)
		for _, kind := range []string{"kind: Deployment", "kind: ClusterRole", "kind: IngressClass", "kind: Service"} {
			if !strings.Contains(rendered, kind) {
				t.Fatalf("%s renders no %s", dir, kind)
			}
		}
		// Namespaced objects need their namespace to exist even for a
		// dry-run, so the Namespace is applied first.
		kubectl(t, []byte(namespaceDoc), "apply", "--server-side", "-f", "-")
		out := kubectl(t, []byte(rendered), "apply", "--server-side", "--dry-run=server", "-f", "-")
		if !strings.Contains(out, "deployment.apps/portico serverside-applied (server dry run)") {
			t.Fatalf("%s: unexpected dry-run output:\n%s", dir, out)
		}
	}
	out := kubectl(t, []byte(kubectl(t, nil, "kustomize", "../manifests/base")), "apply", "--server-side", "-f", "-")
	if !strings.Contains(out, "deployment.apps/portico serverside-applied") {
		t.Fatalf("apply: %s", out)
	}
	if got := kubectl(t, nil, "-n", "portico-system", "get", "service", "portico", "-o", "jsonpath={.spec.type}"); got != "LoadBalancer" {
		t.Fatalf("Service type %q", got)
	}
}

const namespaceDoc = `apiVersion: v1
kind: Namespace
metadata:
  name: portico-system
`
