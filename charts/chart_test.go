package charts

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.yaml from the current chart")

// kubeVersion is the Kubernetes version rendered for (the envtest one).
const kubeVersion = "1.37.2"

// helmBin is the Helm binary: $PORTICO_HELM, else ~/.cache/portico/bin/helm
// (installed by `make helm-tools`). A missing Helm fails the test.
func helmBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PORTICO_HELM"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	p := filepath.Join(home, ".cache", "portico", "bin", "helm")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("helm not found at %s: run `make helm-tools` (or set PORTICO_HELM)", p)
	}
	return p
}

// helm runs Helm and returns its stdout; it fails the test on an error.
func helm(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, err := helmErr(env, helmBin(t), args...)
	if err != nil {
		t.Fatalf("helm %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// helmErr runs Helm, returning stdout, or an error carrying stderr.
func helmErr(env []string, bin string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), &helmError{err: err, stderr: stderr.String()}
	}
	return stdout.String(), nil
}

type helmError struct {
	err    error
	stderr string
}

func (e *helmError) Error() string { return e.err.Error() + ": " + e.stderr }

// valueSets are the testdata/NAME.values.yaml files.
func valueSets(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/*.values.yaml")
	if err != nil || len(files) < 4 {
		t.Fatalf("want at least 4 value sets in testdata, got %v (%v)", files, err)
	}
	return files
}

// extraArgs reads the "# helm-args: …" first line of a value set.
func extraArgs(t *testing.T, values string) []string {
	b, err := os.ReadFile(values)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	if a, ok := strings.CutPrefix(first, "# helm-args:"); ok {
		return strings.Fields(a)
	}
	return nil
}

// render is `helm template` of the chart with one value set.
func render(t *testing.T, values string, more ...string) string {
	t.Helper()
	args := append([]string{"template", "portico", "./portico", "--namespace", "portico-system",
		"--kube-version", kubeVersion, "-f", values}, extraArgs(t, values)...)
	return helm(t, nil, append(args, more...)...)
}

// TestLint runs helm lint --strict with the defaults and every value set.
func TestLint(t *testing.T) {
	helm(t, nil, "lint", "--strict", "--kube-version", kubeVersion, "./portico")
	for _, v := range valueSets(t) {
		helm(t, nil, "lint", "--strict", "--kube-version", kubeVersion, "./portico", "-f", v)
	}
}

// TestGolden compares `helm template` of each value set with its golden
// file (go test ./charts/ -run TestGolden -update rewrites them).
func TestGolden(t *testing.T) {
	for _, v := range valueSets(t) {
		name := strings.TrimSuffix(filepath.Base(v), ".values.yaml")
		t.Run(name, func(t *testing.T) {
			got := render(t, v)
			golden := filepath.Join("testdata", name+".golden.yaml")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("helm template with %s differs from %s (review, then -update):\n%s", v, golden, diff(string(want), got))
			}
		})
	}
}

// TestSchemaRejects checks values.schema.json refuses wrong values.
func TestSchemaRejects(t *testing.T) {
	bin := helmBin(t)
	for _, set := range []string{"replicaCount=-1", "image.digest=latest", "service.type=Ingress", "istio=maybe",
		"unknownKey=1", "extraArgs[0]=no-dashes", "acme.ca=http://insecure.example.com"} {
		_, err := helmErr(nil, bin, "template", "portico", "./portico", "--kube-version", kubeVersion, "--set", set)
		if err == nil || !strings.Contains(err.Error(), "schema") {
			t.Errorf("--set %s: want a schema error, got %v", set, err)
		}
	}
}

// TestRBACInSync fails when charts/portico/templates/rbac.yaml is not what
// hack/chart-rbac.sh makes of manifests/base/rbac/role.yaml (run
// `make chart-rbac`).
func TestRBACInSync(t *testing.T) {
	want, err := exec.Command("../hack/chart-rbac.sh", "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("portico/templates/rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("charts/portico/templates/rbac.yaml drifted from manifests/base/rbac/role.yaml: run `make chart-rbac`\n%s", diff(string(want), string(got)))
	}
	// The rendered ClusterRole carries every rule of the kustomize one.
	rendered := render(t, "testdata/default.values.yaml", "--show-only", "templates/rbac.yaml")
	base, _ := os.ReadFile("../manifests/base/rbac/role.yaml")
	_, rules, _ := strings.Cut(string(base), "rules:")
	rules, _, _ = strings.Cut(rules, "---")
	if !strings.Contains(rendered, rules) {
		t.Errorf("rendered ClusterRole lacks the rules of manifests/base/rbac/role.yaml")
	}
}

// diff is a short line diff: the first lines that differ.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i, n := 0, 0; i < max(len(w), len(g)) && n < 20; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			n++
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl + "\n")
		}
	}
	return b.String()
}

// TestServiceMonitorNeedsAPI checks the ServiceMonitor is rendered only
// when the cluster serves monitoring.coreos.com/v1.
func TestServiceMonitorNeedsAPI(t *testing.T) {
	without := helm(t, nil, "template", "portico", "./portico", "--kube-version", kubeVersion, "-f", "testdata/production.values.yaml")
	if strings.Contains(without, "kind: ServiceMonitor") {
		t.Error("ServiceMonitor rendered although monitoring.coreos.com/v1 is not served")
	}
	with := render(t, "testdata/production.values.yaml")
	if !strings.Contains(with, "kind: ServiceMonitor") {
		t.Error("no ServiceMonitor although monitoring.coreos.com/v1 is served")
	}
}

// TestGatewayCRDsOptional checks the Gateway API CRDs are rendered only
// with gatewayAPI.installCRDs, and then every CRD of the pinned standard
// channel.
func TestGatewayCRDsOptional(t *testing.T) {
	if out := render(t, "testdata/default.values.yaml"); strings.Contains(out, "kind: CustomResourceDefinition") {
		t.Error("CRDs rendered by default")
	}
	files, err := filepath.Glob("../manifests/gateway-api/standard/gateway.networking.k8s.io_*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no pinned CRDs: %v", err)
	}
	want := 0 // the bundle also holds a ValidatingAdmissionPolicy
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want += strings.Count(string(b), "\nkind: CustomResourceDefinition\n")
	}
	out := render(t, "testdata/default.values.yaml", "--set", "gatewayAPI.installCRDs=true")
	if n := strings.Count(out, "\nkind: CustomResourceDefinition\n"); n != want || want == 0 {
		t.Errorf("installCRDs=true rendered %d CRDs, want %d", n, want)
	}
	if !strings.Contains(out, "kind: ValidatingAdmissionPolicy") {
		t.Error("installCRDs=true left out the bundle's ValidatingAdmissionPolicy")
	}
}
