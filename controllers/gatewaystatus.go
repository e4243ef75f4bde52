package controllers

import (
	"context"
	"fmt"
	"net"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portico-dev/portico/controllers/translate"
)

// mergeConditions returns current updated with desired, keeping the
// transition time of conditions whose status did not change.
func mergeConditions(current, desired []metav1.Condition) []metav1.Condition {
	out := make([]metav1.Condition, 0, len(desired))
	for _, d := range desired {
		if old := meta.FindStatusCondition(current, d.Type); old != nil && old.Status == d.Status {
			d.LastTransitionTime = old.LastTransitionTime
		} else {
			d.LastTransitionTime = metav1.Now()
		}
		out = append(out, d)
	}
	return out
}

// updateStatus re-reads obj, applies mutate and writes the status when it
// changed, retrying on conflict.
func updateStatus(ctx context.Context, c client.Client, obj client.Object, mutate func() bool) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		}
		if !mutate() {
			return nil
		}
		return c.Status().Update(ctx, obj)
	})
}

// writeGatewayStatus writes the status of our GatewayClasses, Gateways
// (with addresses from their Services) and HTTPRoutes where it differs.
func (r *Reconciler) writeGatewayStatus(ctx context.Context, res *translate.Result, addrs map[translate.ObjectRef][]string) error {
	for _, gc := range res.GatewayClasses {
		obj := &gatewayv1.GatewayClass{}
		obj.Name = gc.Name
		err := updateStatus(ctx, r.Client, obj, func() bool {
			want := obj.Status.DeepCopy()
			want.Conditions = mergeConditions(obj.Status.Conditions, gc.Status.Conditions)
			want.SupportedFeatures = gc.Status.SupportedFeatures
			if equality.Semantic.DeepEqual(&obj.Status, want) {
				return false
			}
			obj.Status = *want
			return true
		})
		if err != nil {
			return fmt.Errorf("writing status of GatewayClass %s: %w", gc.Name, err)
		}
	}
	for _, g := range res.Gateways {
		obj := &gatewayv1.Gateway{}
		obj.Namespace, obj.Name = g.Ref.Namespace, g.Ref.Name
		err := updateStatus(ctx, r.Client, obj, func() bool {
			want := g.Status.DeepCopy()
			addresses := addrs[g.Ref]
			for _, a := range addresses {
				want.Addresses = append(want.Addresses, statusAddress(a))
			}
			if len(addresses) == 0 {
				if c := meta.FindStatusCondition(want.Conditions, string(gatewayv1.GatewayConditionProgrammed)); c != nil && c.Status == metav1.ConditionTrue {
					c.Status, c.Reason = metav1.ConditionFalse, string(gatewayv1.GatewayReasonAddressNotAssigned)
					c.Message = "the Gateway's Service has no address yet"
				}
			}
			want.Conditions = mergeConditions(obj.Status.Conditions, want.Conditions)
			for i := range want.Listeners {
				var old []metav1.Condition
				for _, l := range obj.Status.Listeners {
					if l.Name == want.Listeners[i].Name {
						old = l.Conditions
					}
				}
				want.Listeners[i].Conditions = mergeConditions(old, want.Listeners[i].Conditions)
			}
			if equality.Semantic.DeepEqual(&obj.Status, want) {
				return false
			}
			obj.Status = *want
			return true
		})
		if err != nil {
			return fmt.Errorf("writing status of Gateway %s: %w", g.Ref, err)
		}
	}
	for _, rs := range res.HTTPRoutes {
		obj := &gatewayv1.HTTPRoute{}
		obj.Namespace, obj.Name = rs.Ref.Namespace, rs.Ref.Name
		if err := r.writeRouteStatus(ctx, obj, &obj.Status.RouteStatus, rs); err != nil {
			return err
		}
	}
	for _, rs := range res.GRPCRoutes {
		obj := &gatewayv1.GRPCRoute{}
		obj.Namespace, obj.Name = rs.Ref.Namespace, rs.Ref.Name
		if err := r.writeRouteStatus(ctx, obj, &obj.Status.RouteStatus, rs); err != nil {
			return err
		}
	}
	for _, rs := range res.TLSRoutes {
		obj := &gatewayv1.TLSRoute{}
		obj.Namespace, obj.Name = rs.Ref.Namespace, rs.Ref.Name
		if err := r.writeRouteStatus(ctx, obj, &obj.Status.RouteStatus, rs); err != nil {
			return err
		}
	}
	for _, rs := range res.TCPRoutes {
		obj := &gatewayv1.TCPRoute{}
		obj.Namespace, obj.Name = rs.Ref.Namespace, rs.Ref.Name
		if err := r.writeRouteStatus(ctx, obj, &obj.Status.RouteStatus, rs); err != nil {
			return err
		}
	}
	return nil
}

func statusAddress(a string) gatewayv1.GatewayStatusAddress {
	t := gatewayv1.HostnameAddressType
	if net.ParseIP(a) != nil {
		t = gatewayv1.IPAddressType
	}
	return gatewayv1.GatewayStatusAddress{Type: &t, Value: a}
}

// writeRouteStatus replaces Portico's parent entries in a route's status,
// keeping other controllers' entries and unchanged transition times.
func (r *Reconciler) writeRouteStatus(ctx context.Context, obj client.Object, status *gatewayv1.RouteStatus, rs translate.RouteStatus) error {
	ours := r.Translate.GatewayControllerName
	err := updateStatus(ctx, r.Client, obj, func() bool {
		var parents []gatewayv1.RouteParentStatus
		for _, p := range status.Parents {
			if string(p.ControllerName) != ours {
				parents = append(parents, p) // another controller's
			}
		}
		for _, p := range rs.Parents {
			var old []metav1.Condition
			for _, o := range status.Parents {
				if string(o.ControllerName) == ours && equality.Semantic.DeepEqual(o.ParentRef, p.ParentRef) {
					old = o.Conditions
				}
			}
			p.Conditions = mergeConditions(old, p.Conditions)
			parents = append(parents, p)
		}
		if equality.Semantic.DeepEqual(status.Parents, parents) {
			return false
		}
		status.Parents = parents
		return true
	})
	if err != nil {
		return fmt.Errorf("writing status of %s: %w", rs.Ref, err)
	}
	return nil
}
