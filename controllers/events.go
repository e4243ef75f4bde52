package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/portico-dev/portico/controllers/translate"
)

// reportProblems emits one Event per problem the first time it is seen, so a
// resync does not repeat Events. A problem that goes away and comes back is
// reported again.
func (r *Reconciler) reportProblems(snap *translate.Snapshot, problems []translate.Problem) {
	objects := map[translate.ObjectRef]runtime.Object{}
	for i := range snap.Ingresses {
		ing := &snap.Ingresses[i]
		objects[translate.ObjectRef{Kind: "Ingress", Namespace: ing.Namespace, Name: ing.Name}] = ing
	}
	for _, o := range snap.IstioGateways {
		objects[translate.ObjectRef{Kind: translate.KindIstioGateway, Namespace: o.Namespace, Name: o.Name}] = o
	}
	for _, o := range snap.VirtualServices {
		objects[translate.ObjectRef{Kind: translate.KindVirtualService, Namespace: o.Namespace, Name: o.Name}] = o
	}
	for _, o := range snap.DestinationRules {
		objects[translate.ObjectRef{Kind: translate.KindDestinationRule, Namespace: o.Namespace, Name: o.Name}] = o
	}
	r.reportObjectProblems(objects, problems, nil)
}

// reportObjectProblems emits an Event for each problem not reported
// before. only names the objects whose problems are given (every problem
// of them is in problems); nil means all objects, and the problems of
// objects not named are forgotten.
func (r *Reconciler) reportObjectProblems(objects map[translate.ObjectRef]runtime.Object, problems []translate.Problem, only []translate.ObjectRef) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[translate.ObjectRef]map[string]bool{}
	for _, p := range problems {
		key := p.Field + "\x00" + p.Reason + "\x00" + p.Message
		if seen[p.Object] == nil {
			seen[p.Object] = map[string]bool{}
		}
		seen[p.Object][key] = true
		if r.reported[p.Object][key] {
			continue
		}
		obj, ok := objects[p.Object]
		if !ok || r.Recorder == nil {
			continue
		}
		r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, p.Reason, "Translate", "%s: %s", p.Field, p.Message)
	}
	if only == nil || r.reported == nil {
		r.reported = seen
		return
	}
	for _, ref := range only {
		if seen[ref] == nil {
			delete(r.reported, ref)
		}
	}
	for ref, keys := range seen {
		r.reported[ref] = keys
	}
}
