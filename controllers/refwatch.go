package controllers

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// The Secrets and ConfigMaps that policies and Ingress annotations name
// (htpasswd, API keys, JWKS, client CAs, ingress-nginx auth-secrets) are
// not cached: the cache holds kubernetes.io/tls Secrets only, so that the
// data of every Secret in the cluster (Helm releases, tokens) does not sit
// in memory. They are read directly by the rebuilds. To see a change of
// one promptly (a revoked API key must not stay valid for minutes), a
// second cache watches the metadata of the other Secrets and of
// ConfigMaps, trimmed to namespace, name and resourceVersion (about 200
// bytes an object); an event for a named object triggers a rebuild that
// reads it anew.

// refObjects are the Secrets and ConfigMaps outside the main cache that
// the rebuilds read, and those changed since the last rebuild.
type refObjects struct {
	mu sync.Mutex
	// ingress are the Secrets Ingress annotations name; policy the
	// Secrets and ConfigMaps SecurityPolicies name (read anew at each
	// rebuild, so a change needs only the rebuild).
	ingress map[client.ObjectKey]bool
	policy  map[refKey]bool
	// dirty are named Ingress Secrets changed since the last rebuild,
	// to read again.
	dirty map[client.ObjectKey]bool
}

// refKey is a named Secret or ConfigMap.
type refKey struct {
	key       client.ObjectKey
	configMap bool
}

// setIngress records the Secrets Ingresses name: replacing the set when
// all Ingresses were looked at, else adding to it.
func (o *refObjects) setIngress(keys []client.ObjectKey, all bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if all || o.ingress == nil {
		o.ingress = make(map[client.ObjectKey]bool, len(keys))
	}
	for _, k := range keys {
		o.ingress[k] = true
	}
}

// setPolicy replaces the set of objects policies name.
func (o *refObjects) setPolicy(keys map[refKey]bool) {
	o.mu.Lock()
	o.policy = keys
	o.mu.Unlock()
}

// changed notes an event for an object and reports whether a rebuild
// must follow.
func (o *refObjects) changed(key client.ObjectKey, configMap bool) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	named := o.policy[refKey{key, configMap}]
	if !configMap && o.ingress[key] {
		if o.dirty == nil {
			o.dirty = map[client.ObjectKey]bool{}
		}
		o.dirty[key] = true
		named = true
	}
	return named
}

// takeDirty returns and forgets the changed Ingress Secrets.
func (o *refObjects) takeDirty() map[client.ObjectKey]bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	d := o.dirty
	o.dirty = nil
	return d
}

// restoreDirty puts back what a failed rebuild took.
func (o *refObjects) restoreDirty(d map[client.ObjectKey]bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.dirty == nil {
		o.dirty = map[client.ObjectKey]bool{}
	}
	for k := range d {
		o.dirty[k] = true
	}
}

// newRefCache is the metadata cache of Secrets (but those of the types
// never named: TLS ones, cached whole already, Helm releases and
// service-account tokens) and ConfigMaps, in namespaces (nil: all).
func newRefCache(cfg *rest.Config, opts cache.Options, namespaces map[string]cache.Config) (cache.Cache, error) {
	notNamed := fields.AndSelectors(
		fields.OneTermNotEqualSelector("type", string(corev1.SecretTypeTLS)),
		fields.OneTermNotEqualSelector("type", "helm.sh/release.v1"),
		fields.OneTermNotEqualSelector("type", string(corev1.SecretTypeServiceAccountToken)))
	return cache.New(cfg, cache.Options{
		Scheme: opts.Scheme, Mapper: opts.Mapper, HTTPClient: opts.HTTPClient,
		DefaultNamespaces: namespaces,
		DefaultTransform:  trimToName,
		ByObject:          map[client.Object]cache.ByObject{&corev1.Secret{}: {Field: notNamed}},
	})
}

// trimToName keeps of an object's metadata what the watch needs.
func trimToName(obj any) (any, error) {
	if m, ok := obj.(*metav1.PartialObjectMetadata); ok {
		*m = metav1.PartialObjectMetadata{TypeMeta: m.TypeMeta, ObjectMeta: metav1.ObjectMeta{
			Namespace: m.Namespace, Name: m.Name, ResourceVersion: m.ResourceVersion}}
	}
	return obj, nil
}

// refSources are the watches of the named Secrets and ConfigMaps.
func (r *Reconciler) refSources(c cache.Cache) []source.Source {
	var out []source.Source
	for _, kind := range []string{"Secret", "ConfigMap"} {
		meta := &metav1.PartialObjectMetadata{}
		meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
		out = append(out, source.Kind(c, client.Object(meta), r.refHandler(kind == "ConfigMap")))
	}
	return out
}

// refHandler enqueues a rebuild for events of named objects only.
func (r *Reconciler) refHandler(configMap bool) handler.EventHandler {
	note := func(obj client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		if r.refs.changed(client.ObjectKeyFromObject(obj), configMap) {
			q.Add(snapshotKey)
		}
	}
	return handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			note(e.Object, q)
		},
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if e.ObjectOld.GetResourceVersion() != e.ObjectNew.GetResourceVersion() {
				note(e.ObjectNew, q)
			}
		},
		DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			note(e.Object, q)
		},
	}
}
