package controllers

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ingressNamed(name, rv string) *networkingv1.Ingress {
	return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, ResourceVersion: rv}}
}

// TestPendingChangesBatch: a lone change is taken alone (nothing waits for
// more); changes that arrive while a rebuild runs are taken together by
// the next, each object once with its latest state and its first sighting;
// a failed rebuild puts back what it took without hiding newer states.
func TestPendingChangesBatch(t *testing.T) {
	var p pendingChanges
	p.record("Ingress", ingressNamed("a", "1"), false)
	if got := p.take(); len(got) != 1 {
		t.Fatalf("took %d changes, want 1", len(got))
	}
	p.record("Ingress", ingressNamed("b", "1"), false)
	p.record("Ingress", ingressNamed("c", "1"), false)
	first := p.m[changeKey{"Ingress", "ns", "b"}].seen
	p.record("Ingress", ingressNamed("b", "2"), true)
	got := p.take()
	if len(got) != 2 {
		t.Fatalf("took %d changes, want 2", len(got))
	}
	b := got[changeKey{"Ingress", "ns", "b"}]
	if b.obj != nil || !b.seen.Equal(first) {
		t.Fatalf("b = %+v, want deleted, first seen %v", b, first)
	}
	p.record("Ingress", ingressNamed("c", "2"), false)
	p.restore(got)
	again := p.take()
	if c := again[changeKey{"Ingress", "ns", "c"}]; c.obj.GetResourceVersion() != "2" {
		t.Fatalf("restore hid the newer state of c: %+v", c.obj)
	}
	if len(again) != 2 {
		t.Fatalf("took %d changes after restore, want 2", len(again))
	}
}

// TestPropagationMetric: every change applied is observed once, by kind.
func TestPropagationMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newControllerMetrics(reg)
	var p pendingChanges
	p.record("Ingress", ingressNamed("a", "1"), false)
	p.record("Ingress", ingressNamed("b", "1"), false)
	changes := p.take()
	m.propagated(changes, changes[changeKey{"Ingress", "ns", "a"}].seen)
	if n := testutil.CollectAndCount(m.propagation, "portico_propagation_seconds"); n != 1 {
		t.Fatalf("%d series, want 1 (kind=Ingress)", n)
	}
	var out dto.Metric
	if err := m.propagation.WithLabelValues("Ingress").(prometheus.Histogram).Write(&out); err != nil {
		t.Fatal(err)
	}
	if c := out.GetHistogram().GetSampleCount(); c != 2 {
		t.Fatalf("%d observations, want 2", c)
	}
}
