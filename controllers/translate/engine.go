package translate

import (
	"cmp"
	"iter"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/portico-dev/portico/router"
	certs "github.com/portico-dev/portico/tls"
)

// Engine translates incrementally: it holds the objects (Set, Delete,
// Replace), the translation of every Ingress of Portico's class as a
// fragment, and indexes from the objects Ingresses name to the Ingresses
// naming them, so that Update re-translates only the Ingresses a change
// affects and patches only the hosts whose routes changed into the last
// Table (router.Table.Patch).
//
// Translate stays the reference: after any sequence of changes, Result
// equals Translate(Snapshot(), opts), and Update's Table serves what
// router.Compile of that Config serves (a property test checks both). When
// the Engine cannot tell what a change affects it rebuilds everything:
// when the Options or the IngressClasses change, when a certificate it
// checked expires or becomes valid, and whenever the snapshot holds
// Gateway API, policy or Istio objects (those are translated by Translate,
// whole, on every Update). Ingresses of the ingress-nginx class are
// translated incrementally too: what one reads of the others is host-wide
// (use-regex, canaries, from-to-www-redirect) and the index records it
// (see engine_nginx.go).
//
// An Engine is not safe for concurrent use. Objects given to it are read,
// never modified, and kept: the caller must not modify them afterwards
// (informer cache objects are fine).
type Engine struct {
	// The objects, by namespace and name (IngressClasses by name).
	classes   map[string]*networkingv1.IngressClass
	ingresses map[nsName]*networkingv1.Ingress
	services  map[nsName]*corev1.Service
	slices    map[nsName]*discoveryv1.EndpointSlice // by the slice's own name
	bySvc     map[nsName][]*discoveryv1.EndpointSlice
	secrets   map[nsName]*corev1.Secret
	// others are the kinds only Translate handles; extraSecrets the
	// Secrets given with them (those policies name, read outside the
	// cache), added to the Snapshot for whole translations.
	others       Snapshot
	extraSecrets []corev1.Secret
	// policyNamed holds the Ingresses whose annotations name a policy:
	// policies are attached by Translate alone, so while any exists the
	// Engine translates whole (never serving such an Ingress unguarded).
	policyNamed map[nsName]bool

	// Changes since the last Update.
	dirtyIngresses map[nsName]bool
	dirtyServices  map[nsName]bool
	dirtySecrets   map[nsName]bool
	// dirtyEndpoints are Services whose EndpointSlices changed.
	dirtyEndpoints map[nsName]bool
	full           bool

	// State of the last Update.
	opts     Options
	started  bool
	resolver *backendResolver
	ix       *engineIndex
	table    *router.Table
	// certs and acme are the certificate lists of the last Update.
	certs   []certs.Certificate
	acme    []ACMEHost
	defCert *certs.Certificate
}

// NewEngine returns an empty Engine; its first Update translates
// everything.
func NewEngine() *Engine {
	e := &Engine{
		classes:   map[string]*networkingv1.IngressClass{},
		ingresses: map[nsName]*networkingv1.Ingress{},
		services:  map[nsName]*corev1.Service{},
		slices:    map[nsName]*discoveryv1.EndpointSlice{},
		bySvc:     map[nsName][]*discoveryv1.EndpointSlice{},
		secrets:   map[nsName]*corev1.Secret{},
		// policyNamed: see Engine.
		policyNamed: map[nsName]bool{},
	}
	e.resetDirty()
	e.full = true
	return e
}

func (e *Engine) resetDirty() {
	e.dirtyIngresses, e.dirtyServices, e.dirtySecrets, e.full = map[nsName]bool{}, map[nsName]bool{}, map[nsName]bool{}, false
	e.dirtyEndpoints = map[nsName]bool{}
}

// changed reports whether next is another version than old: a different
// UID or resourceVersion, or no resourceVersion to tell.
func changed(old, next *metav1.ObjectMeta) bool {
	a, b := versionOf(old), versionOf(next)
	return b.rv == "" || a != b
}

// Set adds or replaces an object of a kind the Engine holds
// (IngressClass, Ingress, Service, EndpointSlice, Secret). It reports
// whether the object was taken: false for other kinds (give those to
// SetOthers). An object with the UID and resourceVersion of the one held
// changes nothing.
func (e *Engine) Set(obj any) bool {
	switch o := obj.(type) {
	case *networkingv1.IngressClass:
		if old, ok := e.classes[o.Name]; !ok || changed(&old.ObjectMeta, &o.ObjectMeta) {
			e.classes[o.Name] = o
			e.full = true
		}
	case *networkingv1.Ingress:
		k := nsName{o.Namespace, o.Name}
		if old, ok := e.ingresses[k]; !ok || changed(&old.ObjectMeta, &o.ObjectMeta) {
			e.ingresses[k] = o
			e.dirtyIngresses[k] = true
		}
		if o.Annotations[AnnotationSecurityPolicy] != "" || o.Annotations[AnnotationTrafficPolicy] != "" {
			e.policyNamed[k] = true
		} else {
			delete(e.policyNamed, k)
		}
	case *corev1.Service:
		k := nsName{o.Namespace, o.Name}
		if old, ok := e.services[k]; !ok || changed(&old.ObjectMeta, &o.ObjectMeta) {
			e.services[k] = o
			e.dirtyServices[k] = true
		}
	case *discoveryv1.EndpointSlice:
		k := nsName{o.Namespace, o.Name}
		old, ok := e.slices[k]
		if ok && !changed(&old.ObjectMeta, &o.ObjectMeta) {
			return true
		}
		if ok {
			e.unindexSlice(old)
		}
		e.slices[k] = o
		if svc := o.Labels[discoveryv1.LabelServiceName]; svc != "" {
			sk := nsName{o.Namespace, svc}
			e.bySvc[sk] = insertSorted(e.bySvc[sk], o)
			e.dirtyEndpoints[sk] = true
		}
	case *corev1.Secret:
		k := nsName{o.Namespace, o.Name}
		if old, ok := e.secrets[k]; !ok || changed(&old.ObjectMeta, &o.ObjectMeta) {
			e.secrets[k] = o
			e.dirtySecrets[k] = true
		}
	default:
		return false
	}
	return true
}

// Delete removes an object of a kind Set takes (kind as in ObjectRef:
// "IngressClass", "Ingress", "Service", "EndpointSlice", "Secret"); an
// object not held changes nothing.
func (e *Engine) Delete(kind, namespace, name string) {
	k := nsName{namespace, name}
	switch kind {
	case "IngressClass":
		if _, ok := e.classes[name]; ok {
			delete(e.classes, name)
			e.full = true
		}
	case ingressKind:
		if _, ok := e.ingresses[k]; ok {
			delete(e.ingresses, k)
			e.dirtyIngresses[k] = true
		}
		delete(e.policyNamed, k)
	case "Service":
		if _, ok := e.services[k]; ok {
			delete(e.services, k)
			e.dirtyServices[k] = true
		}
	case "EndpointSlice":
		if old, ok := e.slices[k]; ok {
			e.unindexSlice(old)
			delete(e.slices, k)
		}
	case "Secret":
		if _, ok := e.secrets[k]; ok {
			delete(e.secrets, k)
			e.dirtySecrets[k] = true
		}
	}
}

func (e *Engine) unindexSlice(es *discoveryv1.EndpointSlice) {
	svc := es.Labels[discoveryv1.LabelServiceName]
	if svc == "" {
		return
	}
	sk := nsName{es.Namespace, svc}
	list := slices.DeleteFunc(slices.Clone(e.bySvc[sk]), func(x *discoveryv1.EndpointSlice) bool { return x.Name == es.Name })
	if len(list) == 0 {
		delete(e.bySvc, sk)
	} else {
		e.bySvc[sk] = list
	}
	e.dirtyEndpoints[sk] = true
}

// insertSorted puts es into list (sorted by name), replacing one of the
// same name. The list is copied: the resolver of a running Update may hold
// the old one.
func insertSorted(list []*discoveryv1.EndpointSlice, es *discoveryv1.EndpointSlice) []*discoveryv1.EndpointSlice {
	list = slices.DeleteFunc(slices.Clone(list), func(x *discoveryv1.EndpointSlice) bool { return x.Name == es.Name })
	i, _ := slices.BinarySearchFunc(list, es.Name, func(x *discoveryv1.EndpointSlice, n string) int { return cmp.Compare(x.Name, n) })
	return slices.Insert(list, i, es)
}

// SetOthers replaces the objects of the kinds Set does not take (Gateway
// API, Istio, Namespaces, ConfigMaps, Pods, BackendTLSPolicies) with those
// of s; the kinds Set takes are ignored in s.
func (e *Engine) SetOthers(s *Snapshot) {
	o := *s
	e.extraSecrets = s.Secrets
	o.IngressClasses, o.Ingresses, o.Services, o.EndpointSlices, o.Secrets = nil, nil, nil, nil, nil
	e.others = o
}

// Replace makes the Engine's objects those of s, as Set and Delete would
// one by one: unchanged objects (same UID and resourceVersion) cost a
// lookup. The kinds only Translate handles are taken as SetOthers does.
func (e *Engine) Replace(s *Snapshot) {
	keep := map[string]bool{}
	for i := range s.IngressClasses {
		e.Set(&s.IngressClasses[i])
		keep[s.IngressClasses[i].Name] = true
	}
	for name := range e.classes {
		if !keep[name] {
			e.Delete("IngressClass", "", name)
		}
	}
	replaceKind(e, ingressKind, s.Ingresses, e.ingresses)
	replaceKind(e, "Service", s.Services, e.services)
	replaceKind(e, "EndpointSlice", s.EndpointSlices, e.slices)
	replaceKind(e, "Secret", s.Secrets, e.secrets)
	e.SetOthers(s)
	// Its Secrets are held, as Set holds them: none is extra (a Secret
	// deleted later must not come back from the extra ones).
	e.extraSecrets = nil
}

// object is what Replace needs of the kinds Set takes.
type object interface {
	GetNamespace() string
	GetName() string
}

func replaceKind[T any, PT interface {
	*T
	object
}, V any](e *Engine, kind string, items []T, held map[nsName]V) {
	keep := make(map[nsName]bool, len(items))
	for i := range items {
		p := PT(&items[i])
		e.Set(p)
		keep[nsName{p.GetNamespace(), p.GetName()}] = true
	}
	var gone []nsName
	for k := range held {
		if !keep[k] {
			gone = append(gone, k)
		}
	}
	for _, k := range gone {
		e.Delete(kind, k.ns, k.name)
	}
}

// Snapshot returns the Engine's objects as a Snapshot, each kind sorted by
// namespace and name: the input of the reference Translate, and of
// Update when it translates whole. The objects are shared, not copied.
func (e *Engine) Snapshot() *Snapshot {
	s := e.others
	s.IngressClasses = sortedValues(e.classes, func(a, b *networkingv1.IngressClass) int { return cmp.Compare(a.Name, b.Name) })
	s.Ingresses = sortedValues(e.ingresses, func(a, b *networkingv1.Ingress) int { return compareMeta(&a.ObjectMeta, &b.ObjectMeta) })
	s.Services = sortedValues(e.services, func(a, b *corev1.Service) int { return compareMeta(&a.ObjectMeta, &b.ObjectMeta) })
	s.EndpointSlices = sortedValues(e.slices, func(a, b *discoveryv1.EndpointSlice) int { return compareMeta(&a.ObjectMeta, &b.ObjectMeta) })
	s.Secrets = sortedValues(e.secrets, func(a, b *corev1.Secret) int { return compareMeta(&a.ObjectMeta, &b.ObjectMeta) })
	if len(e.extraSecrets) > 0 {
		held := len(s.Secrets)
		for _, x := range e.extraSecrets {
			if e.secrets[nsName{x.Namespace, x.Name}] == nil {
				s.Secrets = append(s.Secrets, x)
			}
		}
		if len(s.Secrets) > held {
			slices.SortFunc(s.Secrets, func(a, b corev1.Secret) int { return compareMeta(&a.ObjectMeta, &b.ObjectMeta) })
		}
	}
	return &s
}

func compareMeta(a, b *metav1.ObjectMeta) int {
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}

func sortedValues[K comparable, T any](m map[K]*T, less func(a, b *T) int) []T {
	ptrs := make([]*T, 0, len(m))
	for _, v := range m {
		ptrs = append(ptrs, v)
	}
	slices.SortFunc(ptrs, less)
	out := make([]T, len(ptrs))
	for i, p := range ptrs {
		out[i] = *p
	}
	return out
}

// Secret returns the Secret held under namespace/name, or nil.
func (e *Engine) Secret(namespace, name string) *corev1.Secret {
	return e.secrets[nsName{namespace, name}]
}

// Ingresses yields every Ingress held, in no order, without copying.
func (e *Engine) Ingresses() iter.Seq[*networkingv1.Ingress] {
	return func(yield func(*networkingv1.Ingress) bool) {
		for _, ing := range e.ingresses {
			if !yield(ing) {
				return
			}
		}
	}
}

// Ingress returns the Ingress held under namespace/name, or nil.
func (e *Engine) Ingress(namespace, name string) *networkingv1.Ingress {
	return e.ingresses[nsName{namespace, name}]
}

// wholeOnly reports whether the objects include kinds only Translate
// handles and that change translation: Gateway API routes and gateways,
// policies and Istio objects.
func (e *Engine) wholeOnly(opts Options) bool {
	o := &e.others
	if len(o.GatewayClasses)+len(o.Gateways)+len(o.HTTPRoutes)+len(o.GRPCRoutes)+len(o.TLSRoutes)+len(o.TCPRoutes)+
		len(o.ReferenceGrants)+len(o.BackendTLSPolicies)+len(o.SecurityPolicies)+len(o.TrafficPolicies)+len(e.policyNamed) > 0 {
		return true
	}
	return opts.Istio != nil && len(o.IstioGateways)+len(o.VirtualServices)+len(o.DestinationRules) > 0
}
