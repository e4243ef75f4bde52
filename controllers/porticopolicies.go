package controllers

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	portico "github.com/portico-dev/portico/api/v1alpha1"
	"github.com/portico-dev/portico/controllers/translate"
)

// porticoCRDsPresent reports whether the SecurityPolicy and TrafficPolicy
// CRDs are installed.
func porticoCRDsPresent(mapper meta.RESTMapper) bool {
	for _, kind := range []string{translate.KindSecurityPolicy, translate.KindTrafficPolicy} {
		if _, err := mapper.RESTMapping(schema.GroupKind{Group: portico.GroupVersion.Group, Kind: kind}, portico.GroupVersion.Version); err != nil {
			return false
		}
	}
	return true
}

// policyWatcher turns Portico's policies on once their CRDs exist: at
// start, or later when they are installed, without a restart. Until then
// an Ingress annotation naming a policy makes its routes answer 500.
type policyWatcher struct {
	r      *Reconciler
	mapper meta.RESTMapper
	cache  cache.Cache
	log    logr.Logger
}

// NeedLeaderElection is false: every replica enforces the policies.
func (w *policyWatcher) NeedLeaderElection() bool { return false }

// Start waits for the CRDs, adds the watches and enqueues a rebuild.
func (w *policyWatcher) Start(ctx context.Context) error {
	t := time.NewTicker(istioCheckInterval)
	defer t.Stop()
	logged := false
	for !porticoCRDsPresent(w.mapper) {
		if !logged {
			w.log.Info("Portico policy CRDs are not installed (manifests/portico): SecurityPolicy and TrafficPolicy are off until they are")
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
	all := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{snapshotKey}
	})
	for _, obj := range []client.Object{&portico.SecurityPolicy{}, &portico.TrafficPolicy{}} {
		if err := w.r.ctrl.Watch(source.Kind(w.cache, obj, all)); err != nil {
			return err
		}
	}
	if !w.cache.WaitForCacheSync(ctx) {
		return ctx.Err()
	}
	w.r.policiesOn.Store(true)
	w.log.Info("Portico policy CRDs found: serving SecurityPolicies and TrafficPolicies")
	one := make(chan event.GenericEvent, 1)
	one <- event.GenericEvent{Object: &portico.SecurityPolicy{}}
	return w.r.ctrl.Watch(source.Channel(one, all))
}

// listPolicies adds the policies, and the Secrets and ConfigMaps they
// name, to the snapshot, and returns what they name. Only TLS Secrets are
// cached: the others are read directly (a change of one triggers a
// rebuild: see refwatch.go).
func listPolicies(ctx context.Context, c, direct client.Reader, namespace string, snap *translate.Snapshot) (map[refKey]bool, error) {
	var (
		sps portico.SecurityPolicyList
		tps portico.TrafficPolicyList
	)
	ns := client.InNamespace(namespace)
	if err := c.List(ctx, &sps, ns); err != nil {
		return nil, fmt.Errorf("listing SecurityPolicies: %w", err)
	}
	if err := c.List(ctx, &tps, ns); err != nil {
		return nil, fmt.Errorf("listing TrafficPolicies: %w", err)
	}
	snap.SecurityPolicies, snap.TrafficPolicies = sps.Items, tps.Items
	haveSecret, haveCM := map[client.ObjectKey]bool{}, map[client.ObjectKey]bool{}
	for i := range snap.Secrets {
		haveSecret[client.ObjectKeyFromObject(&snap.Secrets[i])] = true
	}
	for i := range snap.ConfigMaps {
		haveCM[client.ObjectKeyFromObject(&snap.ConfigMaps[i])] = true
	}
	named := map[refKey]bool{}
	for i := range sps.Items {
		sp := &sps.Items[i]
		for _, ref := range policySecretRefs(sp) {
			key := client.ObjectKey{Namespace: sp.Namespace, Name: ref.name}
			named[refKey{key, ref.configMap}] = true
			if ref.configMap {
				if haveCM[key] {
					continue
				}
				haveCM[key] = true
				var cm corev1.ConfigMap
				if err := direct.Get(ctx, key, &cm); err == nil {
					snap.ConfigMaps = append(snap.ConfigMaps, cm)
				} else if !apierrors.IsNotFound(err) {
					return nil, fmt.Errorf("reading ConfigMap %s: %w", key, err)
				}
				continue
			}
			if haveSecret[key] {
				continue
			}
			haveSecret[key] = true
			var s corev1.Secret
			if err := direct.Get(ctx, key, &s); err == nil {
				snap.Secrets = append(snap.Secrets, s)
			} else if !apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("reading Secret %s: %w", key, err)
			}
		}
	}
	return named, nil
}

type policyRef struct {
	name      string
	configMap bool
}

// policySecretRefs lists the Secrets and ConfigMaps a SecurityPolicy names.
func policySecretRefs(sp *portico.SecurityPolicy) []policyRef {
	var out []policyRef
	if b := sp.Spec.BasicAuth; b != nil {
		out = append(out, policyRef{name: b.Users.Name})
	}
	if a := sp.Spec.APIKey; a != nil {
		for _, r := range a.CredentialRefs {
			out = append(out, policyRef{name: r.Name})
		}
	}
	if j := sp.Spec.JWT; j != nil {
		for _, p := range j.Providers {
			if p.LocalJWKS != nil {
				out = append(out, policyRef{name: p.LocalJWKS.Name, configMap: p.LocalJWKS.Kind == "ConfigMap"})
			}
		}
	}
	return out
}

// writePorticoPolicyStatus replaces Portico's ancestor entries in the
// status of each SecurityPolicy and TrafficPolicy, keeping other
// controllers' entries and the transition times of unchanged conditions.
func (r *Reconciler) writePorticoPolicyStatus(ctx context.Context, res *translate.Result) error {
	ours := r.Translate.GatewayControllerName
	if ours == "" {
		ours = r.Translate.ControllerName
	}
	write := func(obj client.Object, status *gatewayv1.PolicyStatus, ps translate.PolicyStatus) error {
		obj.SetNamespace(ps.Ref.Namespace)
		obj.SetName(ps.Ref.Name)
		err := updateStatus(ctx, r.Client, obj, func() bool {
			var ancestors []gatewayv1.PolicyAncestorStatus
			for _, a := range status.Ancestors {
				if string(a.ControllerName) != ours {
					ancestors = append(ancestors, a)
				}
			}
			for _, a := range ps.Ancestors {
				var old []metav1.Condition
				for _, o := range status.Ancestors {
					if string(o.ControllerName) == ours && equality.Semantic.DeepEqual(o.AncestorRef, a.AncestorRef) {
						old = o.Conditions
					}
				}
				a.Conditions = mergeConditions(old, a.Conditions)
				ancestors = append(ancestors, a)
			}
			if len(ancestors) > 16 {
				ancestors = ancestors[:16]
			}
			if equality.Semantic.DeepEqual(status.Ancestors, ancestors) || len(status.Ancestors) == 0 && len(ancestors) == 0 {
				return false
			}
			status.Ancestors = ancestors
			return true
		})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("writing status of %s: %w", ps.Ref, err)
		}
		return nil
	}
	for _, ps := range res.SecurityPolicies {
		obj := &portico.SecurityPolicy{}
		if err := write(obj, &obj.Status, ps); err != nil {
			return err
		}
	}
	for _, ps := range res.TrafficPolicies {
		obj := &portico.TrafficPolicy{}
		if err := write(obj, &obj.Status, ps); err != nil {
			return err
		}
	}
	return nil
}
