package harness

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Pod network family: namespaces portico-p<N>, veths ppv<N>h/n, addresses
// 198.19.<N>.2 (inside the blackholed TestRange).
const (
	podNSPrefix   = "portico-p"
	podVethPrefix = "ppv"
	podOctet      = 19
)

// PodRunner acts as the kubelet of the one Node: it binds pending pods to
// it, runs each pod's containers as local programs in the pod's own network
// namespace, reports their status, and cleans up deleted pods.
type PodRunner struct {
	c      client.Client
	cp     *ControlPlane
	images Images
	dir    string
	log    func(string, ...any)

	mu       sync.Mutex
	pods     map[types.UID]*runningPod
	used     map[int]bool
	warned   map[types.UID]bool
	logsPort int
}

func newPodRunner(c client.Client, cp *ControlPlane, images Images, dir string, log func(string, ...any)) *PodRunner {
	return &PodRunner{c: c, cp: cp, images: images, dir: dir, log: log,
		pods: map[types.UID]*runningPod{}, used: map[int]bool{}, warned: map[types.UID]bool{}}
}

// Run serves container logs and keeps pods in step until ctx ends.
func (r *PodRunner) Run(ctx context.Context) error {
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return err
	}
	port, err := r.serveLogs(ctx)
	if err != nil {
		return err
	}
	r.logsPort = port
	if err := r.nodeReady(ctx); err != nil {
		return err
	}
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		if err := r.sync(ctx); err != nil && ctx.Err() == nil {
			r.log("pod runner: %v", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// nodeReady marks the Node Ready with the runner's kubelet endpoint.
func (r *PodRunner) nodeReady(ctx context.Context) error {
	var node corev1.Node
	if err := r.c.Get(ctx, client.ObjectKey{Name: NodeName}, &node); err != nil {
		return err
	}
	now := metav1.Now()
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		Message: "portico pod runner is ready", LastHeartbeatTime: now, LastTransitionTime: now}}
	// Only the IP: the API server would resolve a host name through DNS.
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(r.logsPort)
	node.Status.Capacity = corev1.ResourceList{corev1.ResourcePods: resourceQuantity("250")}
	node.Status.Allocatable = node.Status.Capacity
	return r.c.Status().Update(ctx, &node)
}

// sync starts, checks and stops pods to match the API server.
func (r *PodRunner) sync(ctx context.Context) error {
	var list corev1.PodList
	if err := r.c.List(ctx, &list); err != nil {
		return err
	}
	seen := map[types.UID]bool{}
	for i := range list.Items {
		pod := &list.Items[i]
		seen[pod.UID] = true
		switch {
		case pod.DeletionTimestamp != nil:
			r.stop(pod.UID)
			if err := r.c.Delete(ctx, pod, client.GracePeriodSeconds(0)); err != nil && !apierrors.IsNotFound(err) {
				r.log("deleting pod %s/%s: %v", pod.Namespace, pod.Name, err)
			}
		case pod.Spec.NodeName == "":
			binding := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name},
				Target: corev1.ObjectReference{Kind: "Node", Name: NodeName}}
			if err := r.c.SubResource("binding").Create(ctx, pod, binding); err != nil && !apierrors.IsConflict(err) {
				r.log("binding pod %s/%s: %v", pod.Namespace, pod.Name, err)
			}
		case pod.Spec.NodeName == NodeName && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed:
			r.keep(ctx, pod)
		}
	}
	r.mu.Lock()
	var gone []types.UID
	for uid := range r.pods {
		if !seen[uid] {
			gone = append(gone, uid)
		}
	}
	r.mu.Unlock()
	for _, uid := range gone {
		r.stop(uid)
	}
	return nil
}

// keep starts a pod that is not running, restarts exited containers and
// writes the pod's status when it changed.
func (r *PodRunner) keep(ctx context.Context, pod *corev1.Pod) {
	r.mu.Lock()
	rp := r.pods[pod.UID]
	r.mu.Unlock()
	if rp == nil {
		var err error
		rp, err = r.start(ctx, pod)
		if err != nil {
			r.unstartable(ctx, pod, err)
			return
		}
		r.mu.Lock()
		r.pods[pod.UID] = rp
		r.mu.Unlock()
	}
	rp.restartExited()
	want := rp.status(pod)
	if statusEqual(pod.Status, want) {
		return
	}
	pod.Status = want
	if err := r.c.Status().Update(ctx, pod); err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
		r.log("status of pod %s/%s: %v", pod.Namespace, pod.Name, err)
	}
}

// unstartable leaves the pod Pending and says why, once, in an Event and
// a condition.
func (r *PodRunner) unstartable(ctx context.Context, pod *corev1.Pod, err error) {
	r.mu.Lock()
	warned := r.warned[pod.UID]
	r.warned[pod.UID] = true
	r.mu.Unlock()
	if warned {
		return
	}
	r.log("pod %s/%s: %v", pod.Namespace, pod.Name, err)
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, GenerateName: pod.Name + "."},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, APIVersion: "v1"},
		Reason:         "Failed", Message: err.Error(), Type: corev1.EventTypeWarning, Source: corev1.EventSource{Component: "portico-pod-runner", Host: NodeName},
		FirstTimestamp: metav1.Now(), LastTimestamp: metav1.Now(), Count: 1}
	_ = r.c.Create(ctx, ev)
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
		{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, Reason: "NoLocalRunner", Message: err.Error()}}
	_ = r.c.Status().Update(ctx, pod)
}

// stop ends a pod's processes and removes its network and files.
func (r *PodRunner) stop(uid types.UID) {
	r.mu.Lock()
	rp := r.pods[uid]
	delete(r.pods, uid)
	delete(r.warned, uid)
	r.mu.Unlock()
	if rp == nil {
		return
	}
	rp.kill()
	r.mu.Lock()
	delete(r.used, rp.host.N)
	r.mu.Unlock()
}

func (r *PodRunner) stopAll() {
	r.mu.Lock()
	var uids []types.UID
	for uid := range r.pods {
		uids = append(uids, uid)
	}
	r.mu.Unlock()
	for _, uid := range uids {
		r.stop(uid)
	}
}

// allocate reserves a pod network number.
func (r *PodRunner) allocate() (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for n := 1; n <= 254; n++ {
		if !r.used[n] {
			r.used[n] = true
			return n, nil
		}
	}
	return 0, fmt.Errorf("no pod address left (254 pods at most)")
}
