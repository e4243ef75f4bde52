//go:build helmcluster

package charts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	harness "github.com/portico-dev/portico/envtest"
)

// TestOnCluster runs on the local cluster harness (root, iproute2 and the
// control-plane binaries with kube-controller-manager needed):
//
//  1. builds Portico's image for this machine's architecture with
//     cmd/portico-image and deploys manifests/base through a kustomize
//     overlay pinning the image by digest (what `kustomize edit set image`
//     writes); the pod runner runs the image's unpacked root filesystem,
//     chrooted, as user 65532, and a request is routed through it;
//  2. validates every value set's rendering with a server-side dry run on
//     the 1.37 API server (strict field validation: the OpenAPI schemas of
//     the server itself);
//  3. helm install, upgrade and uninstall the chart (image by digest), with
//     a request routed through Portico after each.
func TestOnCluster(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("TestOnCluster needs root (network namespaces, chroot): run as root or skip with -run")
	}
	helmPath := helmBin(t)
	root, _ := filepath.Abs("..")
	layoutDir, digest := buildImage(t, root)
	overlay := digestOverlay(t, root, digest)
	ctx := context.Background()
	c, err := harness.StartDevCluster(ctx, harness.DevOptions{Root: root, DeployPortico: true, Manifests: overlay,
		ImageLayout: layoutDir, Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	env := []string{"KUBECONFIG=" + c.Kubeconfig}
	cl := c.Client

	t.Run("ImageFromDigest", func(t *testing.T) {
		var d appsv1.Deployment
		must(t, cl.Get(ctx, client.ObjectKey{Namespace: "portico-system", Name: "portico"}, &d))
		if got, want := d.Spec.Template.Spec.Containers[0].Image, harness.PorticoImage+"@"+digest; got != want {
			t.Errorf("Deployment image %q, want %q", got, want)
		}
		checkChrooted(t, filepath.Join(homeDir(), ".cache", "portico", "devcluster-rootfs"))
		deployEcho(t, cl, "apps", "echo")
		must(t, cl.Create(ctx, ingress("apps", "kustomize", "portico", "image.example.com", "echo")))
		expectRouted(t, c.LB.Address("portico-system", "portico"), "image.example.com")
	})

	t.Run("ServerSideDryRun", func(t *testing.T) {
		must(t, cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "portico-validate"}}))
		dryRun := func(docs string) (string, error) {
			cmd := exec.Command("kubectl", "apply", "--server-side", "--dry-run=server", "--validate=strict",
				"--field-manager=helm-test", "--force-conflicts", "-f", "-")
			cmd.Env, cmd.Stdin = append(os.Environ(), env...), strings.NewReader(docs)
			b, err := cmd.CombinedOutput()
			return string(b), err
		}
		var rendered string
		for _, v := range valueSets(t) {
			args := append([]string{"template", "validate", "./portico", "--namespace", "portico-validate",
				"--kube-version", kubeVersion, "-f", v}, extraArgs(t, v)...)
			out := helm(t, nil, args...)
			rendered = out
			docs, skipped := withoutKinds(out, "ServiceMonitor") // no monitoring.coreos.com CRD here
			if b, err := dryRun(docs); err != nil {
				t.Errorf("%s: server-side dry run: %v\n%s", v, err, b)
			} else {
				t.Logf("%s: %d objects valid (skipped %v)", v, strings.Count(b, "(server dry run)"), skipped)
			}
		}
		// The validation is strict: a misspelt field fails.
		bad, _ := withoutKinds(strings.Replace(rendered, "terminationGracePeriodSeconds:", "terminationGracePeriodSecond:", 1), "ServiceMonitor")
		if b, err := dryRun(bad); err == nil || !strings.Contains(b, "terminationGracePeriodSecond") {
			t.Errorf("a misspelt field passed the dry run: %v\n%s", err, b)
		}
	})

	set := []string{"--set", "image.digest=" + digest, "--set", "ingressClass.name=helm", "--set", "ingressClass.controllerName=portico.dev/helm",
		"--set", "gatewayAPI.enabled=false", "--set", "replicaCount=1", "--wait", "--timeout", "3m"}
	lb := func() string { return c.LB.Address("portico-helm", "edge-portico") }
	t.Run("Install", func(t *testing.T) {
		out, err := helmErr(env, helmPath, append([]string{"install", "edge", "./portico", "--namespace", "portico-helm", "--create-namespace"}, set...)...)
		if err != nil {
			t.Fatalf("helm install: %v\n%s\n%s", err, out, podState(ctx, cl, "portico-helm"))
		}
		must(t, cl.Create(ctx, ingress("apps", "helm", "helm", "helm.example.com", "echo")))
		expectRouted(t, lb(), "helm.example.com")
	})
	t.Run("Upgrade", func(t *testing.T) {
		up := append([]string{"upgrade", "edge", "./portico", "--namespace", "portico-helm"}, set...)
		up = append(up, "--set", "replicaCount=2", "--set", "podDisruptionBudget.enabled=true", "--set", "extraArgs[0]=--access-log")
		if out, err := helmErr(env, helmPath, up...); err != nil {
			t.Fatalf("helm upgrade: %v\n%s\n%s", err, out, podState(ctx, cl, "portico-helm"))
		}
		var d appsv1.Deployment
		must(t, cl.Get(ctx, client.ObjectKey{Namespace: "portico-helm", Name: "edge-portico"}, &d))
		if d.Status.ReadyReplicas != 2 || !strings.Contains(strings.Join(d.Spec.Template.Spec.Containers[0].Args, " "), "--access-log") {
			t.Errorf("after upgrade: %d ready, args %v", d.Status.ReadyReplicas, d.Spec.Template.Spec.Containers[0].Args)
		}
		expectRouted(t, lb(), "helm.example.com")
	})
	t.Run("Uninstall", func(t *testing.T) {
		if out, err := helmErr(env, helmPath, "uninstall", "edge", "--namespace", "portico-helm", "--wait", "--timeout", "2m"); err != nil {
			t.Fatalf("helm uninstall: %v\n%s", err, out)
		}
		for _, obj := range []client.Object{&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "portico-helm", Name: "edge-portico"}},
			&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "helm"}}} {
			if err := cl.Get(ctx, client.ObjectKeyFromObject(obj), obj); !apierrors.IsNotFound(err) {
				t.Errorf("%T %s still there after uninstall (%v)", obj, obj.GetName(), err)
			}
		}
		// Portico from manifests/base still routes; the uninstalled one's address is gone.
		expectRouted(t, c.LB.Address("portico-system", "portico"), "image.example.com")
		// The loopback load balancer notices the deleted Service on its next
		// sync (every 300 ms), so its address is released shortly after
		// helm returns, not at once.
		deadline := time.Now().Add(15 * time.Second)
		for lb() != "" && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if a := lb(); a != "" {
			t.Errorf("uninstalled release's Service still has load balancer address %s 15 s after helm uninstall", a)
		}
	})
}

// buildImage builds the image for this architecture into a temporary
// layout and returns it with its index digest.
func buildImage(t *testing.T, root string) (string, string) {
	t.Helper()
	out := t.TempDir()
	cmd := exec.Command("go", "run", "./cmd/portico-image", "--platforms", "linux/"+runtime.GOARCH, "--out", out,
		"--version", "v0.0.0-helmtest", "--revision", "test", "--source-date-epoch", "1767225600")
	cmd.Dir = root
	b, err := cmd.Output()
	if err != nil {
		var stderr []byte
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("building the image: %v\n%s", err, stderr)
	}
	digest := strings.TrimSpace(string(b))
	if !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("portico-image printed %q, want a digest", b)
	}
	return filepath.Join(out, "image"), digest
}

// digestOverlay is a kustomize overlay of manifests/base with the image
// pinned by digest, as `kustomize edit set image REPO@DIGEST` writes it.
func digestOverlay(t *testing.T, root, digest string) string {
	t.Helper()
	dir := t.TempDir()
	rel, err := filepath.Rel(dir, filepath.Join(root, "manifests", "base"))
	if err != nil {
		t.Fatal(err)
	}
	k := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- %s\nimages:\n- name: %s\n  digest: %s\n",
		rel, harness.PorticoImage, digest)
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkChrooted wants a running portico whose root is the unpacked image
// and whose user is 65532.
func checkChrooted(t *testing.T, rootfs string) {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*")
	found := 0
	for _, p := range procs {
		exe, err := os.Readlink(p + "/exe")
		if err != nil || exe != filepath.Join(rootfs, "usr/bin/portico") {
			continue
		}
		found++
		if r, _ := os.Readlink(p + "/root"); r != rootfs {
			t.Errorf("%s: root %q, want %q", p, r, rootfs)
		}
		status, _ := os.ReadFile(p + "/status")
		if !strings.Contains(string(status), "\nUid:\t65532\t") {
			t.Errorf("%s: not running as 65532:\n%s", p, status)
		}
	}
	if found == 0 {
		t.Errorf("no process runs %s/usr/bin/portico", rootfs)
	}
}

// withoutKinds drops the YAML documents of the given kinds.
func withoutKinds(manifests string, kinds ...string) (string, []string) {
	var keep []string
	var skipped []string
	for _, doc := range strings.Split(manifests, "\n---\n") {
		drop := false
		for _, k := range kinds {
			if strings.Contains(doc, "\nkind: "+k+"\n") {
				drop, skipped = true, append(skipped, k)
			}
		}
		if !drop {
			keep = append(keep, doc)
		}
	}
	return strings.Join(keep, "\n---\n"), skipped
}

// deployEcho runs a Gateway API echo-basic Deployment and its Service.
func deployEcho(t *testing.T, cl client.Client, ns, name string) {
	t.Helper()
	ctx := context.Background()
	must(t, cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	labels := map[string]string{"app": name}
	must(t, cl.Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "echo", Image: "registry.k8s.io/gateway-api/echo-basic:v1.5.1",
				Env: []corev1.EnvVar{
					{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
					{Name: "NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
				},
				Ports: []corev1.ContainerPort{{ContainerPort: 3000}},
			}}}}}}))
	must(t, cl.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(3000)}}}}))
}

// ingress routes host to svc:80 through the given IngressClass.
func ingress(ns, name, class, host, svc string) *networkingv1.Ingress {
	prefix := networkingv1.PathTypePrefix
	return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: networkingv1.IngressSpec{IngressClassName: ptr.To(class), Rules: []networkingv1.IngressRule{{Host: host,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
					Name: svc, Port: networkingv1.ServiceBackendPort{Number: 80}}}}}}}}}}}
}

// expectRouted waits (up to a minute) for a 200 from the echo backend
// through addr for host.
func expectRouted(t *testing.T, addr, host string) {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(time.Minute)
	var last string
	for time.Now().Before(deadline) {
		if addr != "" {
			req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
			req.Host = host
			resp, err := hc.Do(req)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 && strings.Contains(string(body), `"namespace"`) {
					return
				}
				last = strconv.Itoa(resp.StatusCode) + " " + string(body)
			} else {
				last = err.Error()
			}
		} else {
			last = "no load balancer address yet"
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("no 200 from the echo backend for %s through %s: %s", host, addr, last)
}

// podState describes the pods of a namespace, for failures.
func podState(ctx context.Context, cl client.Client, ns string) string {
	var pods corev1.PodList
	if err := cl.List(ctx, &pods, client.InNamespace(ns)); err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "pod %s: %s %v\n", p.Name, p.Status.Phase, p.Status.Conditions)
	}
	return b.String()
}

func homeDir() string {
	h, _ := os.UserHomeDir()
	return h
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
