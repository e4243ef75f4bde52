package dataplane

import (
	"testing"
	"time"
)

// TestAppliedLogForget: Forget drops deleted objects applied before its
// time, and keeps the live ones, the recreated ones and later deletions.
func TestAppliedLogForget(t *testing.T) {
	l := NewAppliedLog()
	t0 := time.Unix(1000, 0)
	l.Record("Ingress/a/live", false, 1, t0)
	l.RecordChange("Ingress/a/gone", true, 2, t0, t0.Add(time.Second))
	l.Record("Ingress/a/back", true, 3, t0.Add(2*time.Second))
	l.Record("Ingress/a/back", false, 4, t0.Add(3*time.Second)) // recreated
	l.Record("Ingress/a/late", true, 5, t0.Add(10*time.Second))
	l.Forget(t0.Add(5 * time.Second))
	for obj, want := range map[string]bool{"Ingress/a/live": true, "Ingress/a/gone": false, "Ingress/a/back": true, "Ingress/a/late": true} {
		if _, ok := l.Get(obj); ok != want {
			t.Errorf("%s kept = %v, want %v", obj, ok, want)
		}
	}
	l.Forget(t0.Add(11 * time.Second))
	if _, ok := l.Get("Ingress/a/late"); ok {
		t.Error("late deletion kept after its time")
	}
	if got := len(l.All()); got != 2 {
		t.Errorf("%d entries left, want 2", got)
	}
}
