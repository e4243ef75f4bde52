package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
