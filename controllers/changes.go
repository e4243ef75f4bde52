package controllers

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// changeKey names one object of a kind the translation Engine holds.
type changeKey struct {
	kind, namespace, name string
}

// change is the latest state of one object seen by a watch: obj is nil
// when it was deleted. seen is when the first event not yet applied
// arrived, for portico_propagation_seconds.
type change struct {
	obj  client.Object
	seen time.Time
}

// pendingChanges collects watch events between rebuilds. The rebuild takes
// them all at once, so every change that arrives while one runs goes into
// the next (and a lone change starts one at once: nothing waits for more).
// Only the latest state of an object is kept.
type pendingChanges struct {
	mu sync.Mutex
	m  map[changeKey]change
}

func (p *pendingChanges) record(kind string, obj client.Object, deleted bool) {
	k := changeKey{kind, obj.GetNamespace(), obj.GetName()}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[changeKey]change{}
	}
	c, ok := p.m[k]
	if !ok {
		c.seen = time.Now()
	}
	c.obj = obj
	if deleted {
		c.obj = nil
	}
	p.m[k] = c
}

// take returns and forgets the pending changes.
func (p *pendingChanges) take() map[changeKey]change {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.m
	p.m = nil
	return m
}

// restore puts back changes a failed rebuild took, unless newer ones
// arrived meanwhile.
func (p *pendingChanges) restore(m map[changeKey]change) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[changeKey]change{}
	}
	for k, c := range m {
		if _, newer := p.m[k]; !newer {
			p.m[k] = c
		} else {
			n := p.m[k]
			n.seen = c.seen
			p.m[k] = n
		}
	}
}

// kindOf names the kinds the Engine holds.
func kindOf(obj client.Object) string {
	switch obj.(type) {
	case *networkingv1.IngressClass:
		return "IngressClass"
	case *networkingv1.Ingress:
		return "Ingress"
	case *corev1.Service:
		return "Service"
	case *discoveryv1.EndpointSlice:
		return "EndpointSlice"
	case *corev1.Secret:
		return "Secret"
	}
	return ""
}

// recordingHandler notes each event's object in pending and enqueues the
// one snapshot key.
func recordingHandler(pending *pendingChanges) handler.EventHandler {
	enqueue := func(q workqueue.TypedRateLimitingInterface[reconcile.Request]) { q.Add(snapshotKey) }
	note := func(obj client.Object, deleted bool) {
		if k := kindOf(obj); k != "" {
			pending.record(k, obj, deleted)
		}
	}
	return handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			note(e.Object, false)
			enqueue(q)
		},
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			note(e.ObjectNew, false)
			enqueue(q)
		},
		DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			note(e.Object, true)
			enqueue(q)
		},
		GenericFunc: func(_ context.Context, _ event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(q)
		},
	}
}
