package translate

import (
	"cmp"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Precedence between objects is the same for every API and every kind of
// conflict (host and path claims, listener ports, policies, Istio rules):
// the older object wins — earlier creationTimestamp, then namespace, then
// name, then kind. compareAge is that order; every translation step sorts
// its inputs with it (sortOldestFirst) and decides conflicts in that order.
func compareAge(ca metav1.Time, ra ObjectRef, cb metav1.Time, rb ObjectRef) int {
	return cmp.Or(ca.Compare(cb.Time), cmp.Compare(ra.Namespace, rb.Namespace), cmp.Compare(ra.Name, rb.Name),
		cmp.Compare(ra.Kind, rb.Kind))
}

// sortOldestFirst sorts objects of one kind by compareAge.
func sortOldestFirst[T metav1.Object](objs []T) {
	slices.SortFunc(objs, func(a, b T) int {
		return compareAge(a.GetCreationTimestamp(), ObjectRef{Namespace: a.GetNamespace(), Name: a.GetName()},
			b.GetCreationTimestamp(), ObjectRef{Namespace: b.GetNamespace(), Name: b.GetName()})
	})
}
