package controllers

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"
	istiometa "istio.io/api/meta/v1alpha1"
	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/portico-dev/portico/controllers/translate"
)

// istioConditionType is the condition Portico writes on the Istio objects
// it acts on.
const istioConditionType = "portico.dev/Reconciled"

// writeIstioStatus writes, on every Istio object Portico acts on, one
// condition saying whether everything in it is served, and listing each
// ignored or unsupported field and unresolved reference when not.
func (r *Reconciler) writeIstioStatus(ctx context.Context, res *translate.Result) error {
	byObj := map[translate.ObjectRef][]string{}
	for _, p := range res.Problems {
		byObj[p.Object] = append(byObj[p.Object], fmt.Sprintf("%s: %s", p.Field, p.Message))
	}
	for _, ref := range res.IstioObjects {
		var obj client.Object
		var status *istiometa.IstioStatus
		switch ref.Kind {
		case translate.KindIstioGateway:
			o := &istiov1.Gateway{}
			obj, status = o, &o.Status
		case translate.KindVirtualService:
			o := &istiov1.VirtualService{}
			obj, status = o, &o.Status
		case translate.KindDestinationRule:
			o := &istiov1.DestinationRule{}
			obj, status = o, &o.Status
		default:
			continue
		}
		obj.SetNamespace(ref.Namespace)
		obj.SetName(ref.Name)
		want := &istiometa.IstioCondition{Type: istioConditionType, Status: "True", Reason: "Served",
			Message: "every field is served by Portico"}
		if ps := byObj[ref]; len(ps) > 0 {
			want.Status, want.Reason = "False", "NotFullyServed"
			want.Message = strings.Join(ps, "; ")
		}
		err := updateStatus(ctx, r.Client, obj, func() bool {
			var out []*istiometa.IstioCondition
			changed := true
			for _, c := range status.GetConditions() {
				if c.GetType() != istioConditionType {
					out = append(out, c)
					continue
				}
				if c.GetStatus() == want.GetStatus() && c.GetReason() == want.GetReason() && c.GetMessage() == want.GetMessage() &&
					status.GetObservedGeneration() == obj.GetGeneration() {
					changed = false
				}
				want.LastTransitionTime = c.GetLastTransitionTime()
				if c.GetStatus() != want.GetStatus() {
					want.LastTransitionTime = nil
				}
			}
			if !changed {
				return false
			}
			if want.LastTransitionTime == nil {
				want.LastTransitionTime = timestamppb.Now()
			}
			out = append(out, want)
			status.Conditions = out
			status.ObservedGeneration = obj.GetGeneration()
			return true
		})
		if err != nil {
			return fmt.Errorf("writing status of %s: %w", ref, err)
		}
	}
	return nil
}
