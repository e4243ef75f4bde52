package controllers

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// lastApplied is kubectl's copy of the whole object, often its largest
// annotation; Portico never reads it.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// stripManagedFields drops metadata.managedFields (server-side apply
// bookkeeping, read by nothing in Portico) from every cached object:
// often the largest part of an object's metadata. Writing an object back
// without them keeps the server's (an absent list is not an empty one).
func stripManagedFields(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

// trimReadOnly is the transform of the kinds Portico reads but never
// writes back whole (it patches Ingress status with a merge patch of its
// own change only): managedFields and kubectl's last-applied copy go, and
// EndpointSlices and Secrets lose every annotation (none is read).
func trimReadOnly(obj any) (any, error) {
	obj, _ = stripManagedFields(obj)
	switch o := obj.(type) {
	case *discoveryv1.EndpointSlice:
		o.Annotations = nil
	case *corev1.Secret:
		o.Annotations = nil
	case *networkingv1.Ingress:
		// Every other annotation key is read: unknown ones of Portico
		// and other controllers' are reported.
		delete(o.Annotations, lastApplied)
	case *networkingv1.IngressClass:
		delete(o.Annotations, lastApplied)
	}
	return obj, nil
}

var (
	_ cache.TransformFunc = stripManagedFields
	_ cache.TransformFunc = trimReadOnly
)
