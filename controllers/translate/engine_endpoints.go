package translate

import (
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/portico-dev/portico/router"
)

// swapEndpoints is the endpoint fast path: when only the EndpointSlices
// of a Service changed, its Backends get their new endpoint lists and the
// routes of the Ingresses naming it get the new Backends, without
// translating those Ingresses again. That is exact as long as no Backend
// gains its first ready endpoint or loses its last (which changes the
// Ingresses' problems): swapEndpoints then does nothing and returns false,
// and the caller re-translates the Ingresses. The hosts of the routes
// changed are noted in ch, so only they are compiled again.
//
// An ingress-nginx Ingress may hold the Backends elsewhere too (its error
// pages' backend, its canary paths), which are substituted as well, or
// copies of them its annotations made (backend-protocol, load-balance,
// service-upstream): such an Ingress goes to affected, to be translated
// again, and the resolver forgets the Service's copies.
func (e *Engine) swapEndpoints(svc nsName, ch *changeSet, affected map[nsName]bool) bool {
	r := e.resolver
	s := e.services[svc]
	keys := r.madeBySvc[svc]
	if s == nil || len(keys) == 0 {
		// No Backend was made from it: nothing routes to its endpoints.
		return true
	}
	subst := make(map[*router.Backend]*router.Backend, len(keys))
	for _, k := range keys {
		old := r.made[k]
		sp := portNumbered(s, k.port)
		if old == nil || sp == nil {
			return false
		}
		eps := r.endpoints(svc, sp)
		if (len(eps) == 0) != (len(old.Endpoints) == 0) {
			return false
		}
		b := *old
		b.Endpoints = eps
		subst[old] = &b
	}
	for _, k := range keys {
		old := r.made[k]
		r.made[k] = subst[old]
		if msg, ok := r.unsupported[old]; ok {
			delete(r.unsupported, old)
			r.unsupported[subst[old]] = msg
		}
	}
	r.forgetVariants(svc)
	for dep := range e.ix.svcDeps[svc] {
		f := e.ix.frags[dep]
		if f.nginx && holdsCopies(f, svc, subst) {
			affected[dep] = true
			continue
		}
		if f.nginx {
			swapNginx(f, subst, ch)
		}
		for i := range f.routes {
			fr := &f.routes[i]
			if wbs, ok := substitute(fr.route.Backends, subst); ok {
				fr.route.Backends = wbs
				ch.hosts[hostID{fr.key.host, fr.key.hostMatch}] = true
			}
		}
		for i := range f.passthrough {
			if wbs, ok := substitute(f.passthrough[i].route.Backends, subst); ok {
				f.passthrough[i].route.Backends = wbs
				ch.l4 = true
			}
		}
		if f.def != nil {
			if wbs, ok := substitute(f.def.route.Backends, subst); ok {
				def := *f.def.route
				def.Backends = wbs
				f.def = &fragDefault{route: &def, problems: f.def.problems}
			}
		}
	}
	return true
}

// substitute returns a copy of wbs with the Backends in subst replaced,
// and whether any was; wbs itself is shared with a live Table and not
// modified.
func substitute(wbs []router.WeightedBackend, subst map[*router.Backend]*router.Backend) ([]router.WeightedBackend, bool) {
	var out []router.WeightedBackend
	for i, wb := range wbs {
		nb, ok := subst[wb.Backend]
		if !ok {
			continue
		}
		if out == nil {
			out = append([]router.WeightedBackend(nil), wbs...)
		}
		out[i].Backend = nb
	}
	return out, out != nil
}

// portNumbered finds a Service's TCP port by number.
func portNumbered(s *corev1.Service, port int32) *corev1.ServicePort {
	return findServicePort(s, servicePortRef{number: port})
}

// forgetVariants drops the resolver's copies of a Service's Backends
// (withProtocol, subsets, ingress-nginx balancing), named after them.
func (r *backendResolver) forgetVariants(svc nsName) {
	prefix := svc.ns + "/" + svc.name + ":"
	for k := range r.variants {
		if strings.HasPrefix(k, prefix) {
			delete(r.variants, k)
		}
	}
}

// backendsOf yields every Backend an ingress-nginx fragment's routes and
// canary paths hold, by address, so they can be replaced.
func backendsOf(f *ingressFrag, yield func(**router.Backend)) {
	for i := range f.routes {
		for j := range f.routes[i].route.Backends {
			yield(&f.routes[i].route.Backends[j].Backend)
		}
		if ep := f.routes[i].route.ErrorPages; ep != nil {
			yield(&ep.Backend)
		}
	}
	for i := range f.canaries {
		for j := range f.canaries[i].backends {
			yield(&f.canaries[i].backends[j].Backend)
		}
	}
}

// holdsCopies reports whether an ingress-nginx fragment holds a Backend of
// svc that is not one of the resolver's (those are in subst): a copy an
// annotation made, which only translating again renews.
func holdsCopies(f *ingressFrag, svc nsName, subst map[*router.Backend]*router.Backend) bool {
	prefix := svc.ns + "/" + svc.name + ":"
	found := false
	backendsOf(f, func(b **router.Backend) {
		if *b != nil && subst[*b] == nil && strings.HasPrefix((*b).Name, prefix) {
			found = true
		}
	})
	return found
}

// swapNginx substitutes the Backends of an ingress-nginx fragment held
// outside its routes' Backends: its error pages' and its canary paths'.
// What the live Table shares is copied, never modified.
func swapNginx(f *ingressFrag, subst map[*router.Backend]*router.Backend, ch *changeSet) {
	for i := range f.routes {
		fr := &f.routes[i]
		if ep := fr.route.ErrorPages; ep != nil && subst[ep.Backend] != nil {
			c := *ep
			c.Backend = subst[ep.Backend]
			fr.route.ErrorPages = &c
			ch.hosts[hostID{fr.key.host, fr.key.hostMatch}] = true
		}
	}
	for i := range f.canaries {
		c := &f.canaries[i]
		if wbs, ok := substitute(c.backends, subst); ok {
			c.backends = wbs
			ch.hosts[hostID{c.key.host, c.key.hostMatch}] = true
		}
	}
}
