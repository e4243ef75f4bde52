package controllers

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// istioCheckInterval is how often Portico looks for Istio CRDs installed
// after it started.
const istioCheckInterval = 10 * time.Second

// istioWatcher turns the Istio translation on once the Istio CRDs exist:
// at start, or later when they are installed, without a restart.
type istioWatcher struct {
	r        *Reconciler
	mapper   meta.RESTMapper
	cache    cache.Cache
	required bool
	log      logr.Logger
}

// NeedLeaderElection is false: every replica serves Istio routes.
func (w *istioWatcher) NeedLeaderElection() bool { return false }

// Start waits for the CRDs, adds the watches and enqueues a rebuild.
func (w *istioWatcher) Start(ctx context.Context) error {
	t := time.NewTicker(istioCheckInterval)
	defer t.Stop()
	logged := false
	for {
		if istioCRDsPresent(w.mapper) {
			return w.enable(ctx)
		}
		if !logged {
			w.log.Info("Istio CRDs are not installed: Istio Gateways and VirtualServices are off until they are", "required", w.required)
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (w *istioWatcher) enable(ctx context.Context) error {
	all := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{snapshotKey}
	})
	// Pods only for the labels of DestinationRule subsets: metadata is
	// enough, and cheaper to cache.
	pods := &metav1.PartialObjectMetadata{}
	pods.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
	for _, obj := range []client.Object{&istiov1.Gateway{}, &istiov1.VirtualService{}, &istiov1.DestinationRule{}, pods} {
		if err := w.r.ctrl.Watch(source.Kind(w.cache, obj, all)); err != nil {
			return err
		}
	}
	if !w.cache.WaitForCacheSync(ctx) {
		return ctx.Err()
	}
	w.r.istioOn.Store(true)
	w.log.Info("Istio CRDs found: serving Istio Gateways and VirtualServices")
	// One rebuild now that the kinds are listed.
	return w.r.ctrl.Watch(source.Channel(oneEvent(), all))
}

// oneEvent is a channel holding one event, to trigger one rebuild.
func oneEvent() <-chan event.GenericEvent {
	c := make(chan event.GenericEvent, 1)
	c <- event.GenericEvent{Object: &istiov1.Gateway{}}
	return c
}
