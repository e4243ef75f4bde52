package translate

import (
	"cmp"
	"slices"

	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
)

// destinationRules reports DestinationRules that apply to Services Portico
// routes to: their traffic policies and subsets are not implemented yet,
// and saying so is better than silently ignoring them.
func (t *translator) destinationRules() {
	drs := slices.Clone(t.snap.DestinationRules)
	slices.SortFunc(drs, func(a, b *istiov1.DestinationRule) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	for _, dr := range drs {
		ref := ObjectRef{Kind: KindDestinationRule, Namespace: dr.Namespace, Name: dr.Name}
		if dr.Spec.GetTrafficPolicy() != nil {
			t.problem(ref, "spec.trafficPolicy", SeverityWarning, reasonUnsupportedField,
				"trafficPolicy (load balancing, connection pool, outlier detection, TLS) is not implemented by Portico yet and is ignored")
		}
		if len(dr.Spec.GetSubsets()) > 0 {
			t.problem(ref, "spec.subsets", SeverityWarning, reasonUnsupportedField,
				"subsets are not implemented by Portico yet; routes naming them answer 503")
		}
		t.res.IstioObjects = append(t.res.IstioObjects, ref)
	}
}
