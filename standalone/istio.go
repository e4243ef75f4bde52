package standalone

import (
	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
	istiov1alpha3 "istio.io/client-go/pkg/apis/networking/v1alpha3"
	istiov1beta1 "istio.io/client-go/pkg/apis/networking/v1beta1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/portico-dev/portico/controllers/translate"
)

// addIstio adds Istio networking objects of any served version to s, as
// v1 (the versions share one schema).
func addIstio(s *translate.Snapshot, o runtime.Object) {
	switch v := o.(type) {
	case *istiov1.Gateway:
		defaultNS(&v.Namespace)
		s.IstioGateways = append(s.IstioGateways, v)
	case *istiov1alpha3.Gateway:
		defaultNS(&v.Namespace)
		g := &istiov1.Gateway{TypeMeta: v.TypeMeta, ObjectMeta: v.ObjectMeta}
		v.Spec.DeepCopyInto(&g.Spec)
		s.IstioGateways = append(s.IstioGateways, g)
	case *istiov1beta1.Gateway:
		defaultNS(&v.Namespace)
		g := &istiov1.Gateway{TypeMeta: v.TypeMeta, ObjectMeta: v.ObjectMeta}
		v.Spec.DeepCopyInto(&g.Spec)
		s.IstioGateways = append(s.IstioGateways, g)
	case *istiov1.VirtualService:
		defaultNS(&v.Namespace)
		s.VirtualServices = append(s.VirtualServices, v)
	case *istiov1alpha3.VirtualService:
		defaultNS(&v.Namespace)
		vs := &istiov1.VirtualService{TypeMeta: v.TypeMeta, ObjectMeta: v.ObjectMeta}
		v.Spec.DeepCopyInto(&vs.Spec)
		s.VirtualServices = append(s.VirtualServices, vs)
	case *istiov1beta1.VirtualService:
		defaultNS(&v.Namespace)
		vs := &istiov1.VirtualService{TypeMeta: v.TypeMeta, ObjectMeta: v.ObjectMeta}
		v.Spec.DeepCopyInto(&vs.Spec)
		s.VirtualServices = append(s.VirtualServices, vs)
	case *istiov1.DestinationRule:
		defaultNS(&v.Namespace)
		s.DestinationRules = append(s.DestinationRules, v)
	case *istiov1alpha3.DestinationRule:
		defaultNS(&v.Namespace)
		dr := &istiov1.DestinationRule{TypeMeta: v.TypeMeta, ObjectMeta: v.ObjectMeta}
		v.Spec.DeepCopyInto(&dr.Spec)
		s.DestinationRules = append(s.DestinationRules, dr)
	case *istiov1beta1.DestinationRule:
		defaultNS(&v.Namespace)
		dr := &istiov1.DestinationRule{TypeMeta: v.TypeMeta, ObjectMeta: v.ObjectMeta}
		v.Spec.DeepCopyInto(&dr.Spec)
		s.DestinationRules = append(s.DestinationRules, dr)
	}
}
