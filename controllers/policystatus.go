package controllers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portico-dev/portico/controllers/translate"
)

// writePolicyStatus replaces Portico's ancestor entries in each
// BackendTLSPolicy's status, keeping other controllers' entries and the
// transition times of unchanged conditions.
func (r *Reconciler) writePolicyStatus(ctx context.Context, res *translate.Result) error {
	ours := r.Translate.GatewayControllerName
	for _, ps := range res.BackendTLSPolicies {
		obj := &gatewayv1.BackendTLSPolicy{}
		obj.Namespace, obj.Name = ps.Ref.Namespace, ps.Ref.Name
		err := updateStatus(ctx, r.Client, obj, func() bool {
			var ancestors []gatewayv1.PolicyAncestorStatus
			for _, a := range obj.Status.Ancestors {
				if string(a.ControllerName) != ours {
					ancestors = append(ancestors, a)
				}
			}
			for _, a := range ps.Ancestors {
				var old []metav1.Condition
				for _, o := range obj.Status.Ancestors {
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
			if equality.Semantic.DeepEqual(obj.Status.Ancestors, ancestors) || len(obj.Status.Ancestors) == 0 && len(ancestors) == 0 {
				return false
			}
			obj.Status.Ancestors = ancestors
			return true
		})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("writing status of %s: %w", ps.Ref, err)
		}
	}
	return nil
}

// referencedConfigMaps reads the ConfigMaps that BackendTLSPolicies name
// as CA bundles and GatewayClasses and Gateways name as parameters. Only
// ConfigMap metadata is cached (to notice changes); these contents are
// read here, so Portico never holds every ConfigMap of the cluster.
func referencedConfigMaps(ctx context.Context, direct client.Reader, snap *translate.Snapshot) ([]corev1.ConfigMap, error) {
	var keys []client.ObjectKey
	for i := range snap.BackendTLSPolicies {
		p := &snap.BackendTLSPolicies[i]
		for _, ref := range p.Spec.Validation.CACertificateRefs {
			if ref.Group == "" && ref.Kind == "ConfigMap" {
				keys = append(keys, client.ObjectKey{Namespace: p.Namespace, Name: string(ref.Name)})
			}
		}
	}
	for _, nn := range translate.ParametersRefs(snap.GatewayClasses, snap.Gateways) {
		ns, name, _ := strings.Cut(nn, "/")
		keys = append(keys, client.ObjectKey{Namespace: ns, Name: name})
	}
	seen := map[client.ObjectKey]bool{}
	var out []corev1.ConfigMap
	for _, key := range keys {
		if seen[key] {
			continue
		}
		seen[key] = true
		var cm corev1.ConfigMap
		if err := direct.Get(ctx, key, &cm); err != nil {
			if apierrors.IsNotFound(err) {
				continue // translation reports it
			}
			return nil, fmt.Errorf("getting ConfigMap %s: %w", key, err)
		}
		out = append(out, cm)
	}
	return out, nil
}
