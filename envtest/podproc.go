package harness

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// runningPod is a started pod: its network host, API forwarder and
// container processes.
type runningPod struct {
	namespace  string
	name       string
	host       *Host
	dir        string
	apiFwd     net.Listener
	started    metav1.Time
	containers []*container
	madeDirs   []string
}

// container is one container's process, restarted when it exits.
type container struct {
	name     string
	argv     []string
	env      []string
	log      string
	ready    func() bool
	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   bool
	isReady  bool
	restarts int32
	since    metav1.Time
}

// start sets up the pod's network, files and processes.
func (r *PodRunner) start(ctx context.Context, pod *corev1.Pod) (*runningPod, error) {
	progs := make([]Program, len(pod.Spec.Containers))
	for i, c := range pod.Spec.Containers {
		p, ok := r.images.lookup(c.Image)
		if !ok {
			return nil, fmt.Errorf("image %s has no local runner", c.Image)
		}
		progs[i] = p
	}
	n, err := r.allocate()
	if err != nil {
		return nil, err
	}
	host, err := newNetHost(podNSPrefix, podVethPrefix, podOctet, n, TestRange)
	if err != nil {
		r.mu.Lock()
		delete(r.used, n)
		r.mu.Unlock()
		return nil, err
	}
	rp := &runningPod{namespace: pod.Namespace, name: pod.Name, host: host, dir: filepath.Join(r.dir, string(pod.UID)), started: metav1.Now()}
	fail := func(err error) (*runningPod, error) {
		rp.kill()
		r.mu.Lock()
		delete(r.used, n)
		r.mu.Unlock()
		return nil, err
	}
	if err := os.MkdirAll(rp.dir, 0o755); err != nil {
		return fail(err)
	}
	kubeconfig, err := r.apiAccess(rp)
	if err != nil {
		return fail(err)
	}
	vols, err := r.writeVolumes(ctx, pod, rp.dir)
	if err != nil {
		return fail(err)
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		env, err := r.containerEnv(ctx, pod, c, host.IP, kubeconfig)
		if err != nil {
			return fail(fmt.Errorf("container %s: %w", c.Name, err))
		}
		if progs[i].Root != "" {
			// The image's user must read the kubeconfig and write emptyDirs.
			if err := chownTree(rp.dir, runAs(pod, c, progs[i].User)); err != nil {
				return fail(fmt.Errorf("container %s: %w", c.Name, err))
			}
			vols["kubeconfig-dir"] = rp.dir
		}
		argv, made, err := launchArgv(host, withUser(progs[i], pod, c), c, vols, env)
		if err != nil {
			return fail(fmt.Errorf("container %s: %w", c.Name, err))
		}
		rp.madeDirs = append(rp.madeDirs, made...)
		ct := &container{name: c.Name, argv: argv, env: env, log: filepath.Join(rp.dir, c.Name+".log"), ready: readiness(c, host.IP)}
		if err := ct.launch(); err != nil {
			return fail(fmt.Errorf("container %s: %w", c.Name, err))
		}
		rp.containers = append(rp.containers, ct)
	}
	r.log("pod %s/%s running at %s", pod.Namespace, pod.Name, host.IP)
	return rp, nil
}

// apiAccess forwards the pod's side of its veth, port 443, to the API
// server and writes a kubeconfig using it (set as KUBECONFIG).
func (r *PodRunner) apiAccess(rp *runningPod) (string, error) {
	u, err := url.Parse(r.cp.Config.Host)
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(rp.host.Gateway, "443"))
	if err != nil {
		return "", err
	}
	rp.apiFwd = ln
	go forwardAll(ln, func() (net.Conn, error) { return net.Dial("tcp", u.Host) })
	cfg, err := clientcmd.LoadFromFile(r.cp.Kubeconfig)
	if err != nil {
		return "", err
	}
	for _, c := range cfg.Clusters {
		c.Server = "https://" + net.JoinHostPort(rp.host.Gateway, "443")
		c.TLSServerName = u.Hostname()
	}
	path := filepath.Join(rp.dir, "kubeconfig")
	return path, clientcmd.WriteToFile(*cfg, path)
}

// writeVolumes writes Secret, ConfigMap and emptyDir volumes under dir and
// returns their host paths by volume name.
func (r *PodRunner) writeVolumes(ctx context.Context, pod *corev1.Pod, dir string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		path := filepath.Join(dir, "volumes", v.Name)
		if err := os.MkdirAll(path, 0o755); err != nil {
			return nil, err
		}
		out[v.Name] = path
		var data map[string][]byte
		var items []corev1.KeyToPath
		switch {
		case v.Secret != nil:
			var s corev1.Secret
			if err := r.c.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: v.Secret.SecretName}, &s); err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
			data, items = s.Data, v.Secret.Items
		case v.ConfigMap != nil:
			var cm corev1.ConfigMap
			if err := r.c.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: v.ConfigMap.Name}, &cm); err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
			data = map[string][]byte{}
			for k, val := range cm.Data {
				data[k] = []byte(val)
			}
			items = v.ConfigMap.Items
		}
		if len(items) == 0 {
			for k := range data {
				items = append(items, corev1.KeyToPath{Key: k, Path: k})
			}
		}
		for _, it := range items {
			f := filepath.Join(path, it.Path)
			if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(f, data[it.Key], 0o644); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// containerEnv resolves a container's environment: values with $(VAR)
// references, the downward API, Secret and ConfigMap keys.
func (r *PodRunner) containerEnv(ctx context.Context, pod *corev1.Pod, c *corev1.Container, podIP, kubeconfig string) ([]string, error) {
	vars := map[string]string{"KUBECONFIG": kubeconfig, "HOSTNAME": pod.Name}
	var order []string
	set := func(k, v string) {
		if _, ok := vars[k]; !ok || k == "KUBECONFIG" || k == "HOSTNAME" {
			order = append(order, k)
		}
		vars[k] = v
	}
	for _, from := range c.EnvFrom {
		data := map[string]string{}
		switch {
		case from.ConfigMapRef != nil:
			var cm corev1.ConfigMap
			if err := r.c.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: from.ConfigMapRef.Name}, &cm); err != nil {
				return nil, err
			}
			data = cm.Data
		case from.SecretRef != nil:
			var s corev1.Secret
			if err := r.c.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: from.SecretRef.Name}, &s); err != nil {
				return nil, err
			}
			for k, v := range s.Data {
				data[k] = string(v)
			}
		}
		for k, v := range data {
			set(from.Prefix+k, v)
		}
	}
	for _, e := range c.Env {
		v := expandVars(e.Value, vars)
		if src := e.ValueFrom; src != nil {
			var err error
			if v, err = r.envFrom(ctx, pod, src, podIP); err != nil {
				return nil, fmt.Errorf("env %s: %w", e.Name, err)
			}
		}
		set(e.Name, v)
	}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env, nil
}

func (r *PodRunner) envFrom(ctx context.Context, pod *corev1.Pod, src *corev1.EnvVarSource, podIP string) (string, error) {
	switch {
	case src.FieldRef != nil:
		switch p := src.FieldRef.FieldPath; {
		case p == "metadata.name":
			return pod.Name, nil
		case p == "metadata.namespace":
			return pod.Namespace, nil
		case p == "metadata.uid":
			return string(pod.UID), nil
		case p == "status.podIP":
			return podIP, nil
		case p == "status.hostIP":
			return "127.0.0.1", nil
		case p == "spec.nodeName":
			return NodeName, nil
		case p == "spec.serviceAccountName":
			return pod.Spec.ServiceAccountName, nil
		case strings.HasPrefix(p, "metadata.labels['"):
			return pod.Labels[strings.TrimSuffix(strings.TrimPrefix(p, "metadata.labels['"), "']")], nil
		case strings.HasPrefix(p, "metadata.annotations['"):
			return pod.Annotations[strings.TrimSuffix(strings.TrimPrefix(p, "metadata.annotations['"), "']")], nil
		default:
			return "", fmt.Errorf("fieldRef %s is not supported", p)
		}
	case src.SecretKeyRef != nil:
		var s corev1.Secret
		if err := r.c.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: src.SecretKeyRef.Name}, &s); err != nil {
			return "", err
		}
		return string(s.Data[src.SecretKeyRef.Key]), nil
	case src.ConfigMapKeyRef != nil:
		var cm corev1.ConfigMap
		if err := r.c.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: src.ConfigMapKeyRef.Name}, &cm); err != nil {
			return "", err
		}
		return cm.Data[src.ConfigMapKeyRef.Key], nil
	}
	return "", fmt.Errorf("unsupported valueFrom")
}

var varRef = regexp.MustCompile(`\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)`)

// expandVars replaces $(VAR) with defined variables, as Kubernetes does.
func expandVars(s string, vars map[string]string) string {
	return varRef.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		if v, ok := vars[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

// launchArgv builds the command line: enter the pod's network namespace
// and a private mount namespace, bind the volumes at their mount paths,
// then exec the program. It returns the mount points it had to create.
func launchArgv(h *Host, p Program, c *corev1.Container, vols map[string]string, env []string) ([]string, []string, error) {
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	var script strings.Builder
	// The program is opened before the mounts, which may hide its
	// directory (a volume on /root), and run from that descriptor.
	if p.Root != "" {
		return rootfsArgv(h, p, c, vols, vars)
	}
	script.WriteString("set -e\nexec 3<\"$1\"\nshift\n")
	var made []string
	for _, m := range c.VolumeMounts {
		src, ok := vols[m.Name]
		if !ok {
			return nil, nil, fmt.Errorf("volumeMount %s: no such volume", m.Name)
		}
		if m.SubPath != "" {
			src = filepath.Join(src, m.SubPath)
		}
		if _, err := os.Stat(m.MountPath); os.IsNotExist(err) {
			if err := os.MkdirAll(m.MountPath, 0o755); err != nil {
				return nil, nil, err
			}
			made = append(made, m.MountPath)
		}
		fmt.Fprintf(&script, "mount --bind %q %q\n", src, m.MountPath)
	}
	script.WriteString(`exec /proc/self/fd/3 "$@"` + "\n")
	argv := []string{"ip", "netns", "exec", h.Name, "unshare", "--mount", "--propagation", "private", "sh", "-c", script.String(), "sh", p.Path}
	argv = append(argv, p.Args...)
	for _, a := range c.Args {
		argv = append(argv, expandVars(a, vars))
	}
	return argv, made, nil
}

// readiness returns the container's readiness check: its readinessProbe
// (httpGet or tcpSocket), else its first port accepting connections, else
// always ready.
func readiness(c *corev1.Container, ip string) func() bool {
	port := func(p intOrName) int {
		if p.name == "" {
			return p.num
		}
		for _, cp := range c.Ports {
			if cp.Name == p.name {
				return int(cp.ContainerPort)
			}
		}
		return 0
	}
	dial := func(p int) bool {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(ip, strconv.Itoa(p)), time.Second)
		if err == nil {
			conn.Close()
		}
		return err == nil
	}
	if pr := c.ReadinessProbe; pr != nil {
		switch {
		case pr.HTTPGet != nil:
			hc := &http.Client{Timeout: 2 * time.Second}
			u := fmt.Sprintf("http://%s%s", net.JoinHostPort(ip, strconv.Itoa(port(intOrName{pr.HTTPGet.Port.IntValue(), pr.HTTPGet.Port.StrVal}))), pr.HTTPGet.Path)
			return func() bool {
				resp, err := hc.Get(u)
				if err != nil {
					return false
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode >= 200 && resp.StatusCode < 400
			}
		case pr.TCPSocket != nil:
			p := port(intOrName{pr.TCPSocket.Port.IntValue(), pr.TCPSocket.Port.StrVal})
			return func() bool { return dial(p) }
		}
	}
	for _, cp := range c.Ports {
		if cp.Protocol == "" || cp.Protocol == corev1.ProtocolTCP {
			p := int(cp.ContainerPort)
			return func() bool { return dial(p) }
		}
	}
	return func() bool { return true }
}

type intOrName struct {
	num  int
	name string
}

// launch starts the container's process in its own process group.
func (ct *container) launch() error {
	f, err := os.OpenFile(ct.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(ct.argv[0], ct.argv[1:]...)
	cmd.Env, cmd.Stdout, cmd.Stderr = ct.env, f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	ct.mu.Lock()
	ct.cmd, ct.exited, ct.isReady, ct.since = cmd, false, false, metav1.Now()
	ct.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		f.Close()
		ct.mu.Lock()
		if ct.cmd == cmd {
			ct.exited, ct.isReady = true, false
		}
		ct.mu.Unlock()
	}()
	return nil
}

// restartExited restarts containers whose process ended (restartPolicy
// Always), at most once a second.
func (rp *runningPod) restartExited() {
	for _, ct := range rp.containers {
		ct.mu.Lock()
		again := ct.exited && time.Since(ct.since.Time) > time.Second
		if again {
			ct.restarts++
		}
		ct.mu.Unlock()
		if again {
			_ = ct.launch()
		}
	}
}

// kill stops every process and removes the pod's network and files.
func (rp *runningPod) kill() {
	for _, ct := range rp.containers {
		ct.mu.Lock()
		cmd := ct.cmd
		ct.cmd = nil
		ct.mu.Unlock()
		if cmd != nil && cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}
	if rp.apiFwd != nil {
		rp.apiFwd.Close()
	}
	if rp.host != nil {
		rp.host.Close()
	}
	for _, d := range rp.madeDirs {
		_ = os.Remove(d)
	}
	_ = os.RemoveAll(rp.dir)
}

// status is the pod status the runner reports.
func (rp *runningPod) status(pod *corev1.Pod) corev1.PodStatus {
	st := corev1.PodStatus{Phase: corev1.PodRunning, HostIP: "127.0.0.1", HostIPs: []corev1.HostIP{{IP: "127.0.0.1"}},
		PodIP: rp.host.IP, PodIPs: []corev1.PodIP{{IP: rp.host.IP}}, StartTime: &rp.started, QOSClass: pod.Status.QOSClass}
	all := true
	for i, ct := range rp.containers {
		ct.mu.Lock()
		if !ct.isReady && !ct.exited {
			ct.isReady = ct.ready()
		}
		cs := corev1.ContainerStatus{Name: ct.name, Image: pod.Spec.Containers[i].Image, ImageID: pod.Spec.Containers[i].Image,
			Ready: ct.isReady, RestartCount: ct.restarts, Started: ptrBool(!ct.exited)}
		if ct.exited {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}
		} else {
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: ct.since}
		}
		all = all && ct.isReady
		ct.mu.Unlock()
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	cond := func(t corev1.PodConditionType, ok bool) corev1.PodCondition {
		s := corev1.ConditionFalse
		if ok {
			s = corev1.ConditionTrue
		}
		c := corev1.PodCondition{Type: t, Status: s, LastTransitionTime: metav1.Now()}
		for _, old := range pod.Status.Conditions {
			if old.Type == t && old.Status == s {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
		return c
	}
	st.Conditions = []corev1.PodCondition{cond(corev1.PodScheduled, true), cond(corev1.PodInitialized, true),
		cond(corev1.ContainersReady, all), cond(corev1.PodReady, all)}
	return st
}

// statusEqual compares what the runner reports, ignoring timestamps.
func statusEqual(a, b corev1.PodStatus) bool {
	if a.Phase != b.Phase || a.PodIP != b.PodIP || len(a.Conditions) != len(b.Conditions) || len(a.ContainerStatuses) != len(b.ContainerStatuses) {
		return false
	}
	for i := range a.Conditions {
		if a.Conditions[i].Type != b.Conditions[i].Type || a.Conditions[i].Status != b.Conditions[i].Status {
			return false
		}
	}
	for i := range a.ContainerStatuses {
		x, y := a.ContainerStatuses[i], b.ContainerStatuses[i]
		if x.Ready != y.Ready || x.RestartCount != y.RestartCount || (x.State.Running == nil) != (y.State.Running == nil) {
			return false
		}
	}
	return true
}

func ptrBool(b bool) *bool { return &b }

func resourceQuantity(s string) resource.Quantity { return resource.MustParse(s) }
