package controllers

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/portico-dev/portico/controllers/translate"
)

// TestCurrentProblemsAsksEngine: after an incremental rebuild the debug
// pages get the Engine's problems when they ask (here: an Ingress naming
// a Service that does not exist), and a whole translation's as kept.
func TestCurrentProblemsAsksEngine(t *testing.T) {
	r := &Reconciler{engine: translate.NewEngine()}
	r.problems = &currentProblems{r: r}
	if got := r.problems.get(); len(got) != 0 {
		t.Fatalf("before any rebuild: %v", got)
	}
	opts := translate.Options{ControllerName: "portico.dev/ingress-controller", IngressClass: "portico"}
	r.engine.Replace(&translate.Snapshot{IngressClasses: []networkingv1.IngressClass{{
		ObjectMeta: metav1.ObjectMeta{Name: "portico", ResourceVersion: "1"},
		Spec:       networkingv1.IngressClassSpec{Controller: "portico.dev/ingress-controller"},
	}}})
	u := r.engine.Update(opts)
	first := translate.Result{}
	if u.Whole {
		first = *u.Result
	}
	r.trackProblems(u, &first, u.Table)
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app", ResourceVersion: "1"},
		Spec: networkingv1.IngressSpec{IngressClassName: ptr.To("portico"), Rules: []networkingv1.IngressRule{{
			Host: "app.example.com",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
					Name: "missing", Port: networkingv1.ServiceBackendPort{Number: 80}}},
			}}}},
		}}},
	}
	r.engine.Set(ing)
	u = r.engine.Update(opts)
	if u.Whole {
		t.Fatal("want an incremental update")
	}
	r.trackProblems(u, &translate.Result{}, u.Table)
	got := r.problems.get()
	want := r.engine.AllProblems()
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("problems = %v, want the Engine's %v", got, want)
	}
	whole := translate.Update{Whole: true}
	r.trackProblems(whole, &translate.Result{Problems: want[:1]}, u.Table)
	if got := r.problems.get(); len(got) != 1 {
		t.Fatalf("after a whole translation: %v", got)
	}
}
