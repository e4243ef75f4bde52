package controllers

import (
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestRefObjects: only events of named objects rebuild; a named Ingress
// Secret is read again, a policy's needs only the rebuild; a full look at
// the Ingresses forgets names no Ingress uses any more.
func TestRefObjects(t *testing.T) {
	var o refObjects
	a, b := client.ObjectKey{Namespace: "ns", Name: "a"}, client.ObjectKey{Namespace: "ns", Name: "b"}
	if o.changed(a, false) {
		t.Fatal("an unnamed Secret triggered a rebuild")
	}
	o.setIngress([]client.ObjectKey{a}, false)
	o.setPolicy(map[refKey]bool{{b, false}: true, {a, true}: true})
	if !o.changed(a, false) || !o.changed(b, false) || !o.changed(a, true) || o.changed(b, true) {
		t.Fatal("named objects' events")
	}
	d := o.takeDirty()
	if len(d) != 1 || !d[a] {
		t.Fatalf("dirty %v, want only the Ingress Secret", d)
	}
	o.restoreDirty(d)
	if d := o.takeDirty(); !d[a] {
		t.Fatal("restore lost a change")
	}
	o.setIngress(nil, true)
	if o.changed(a, false) && len(o.takeDirty()) > 0 {
		t.Fatal("a Secret no Ingress names any more is still read again")
	}
}
