package translate

import (
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
func (e *Engine) swapEndpoints(svc nsName, ch *changeSet) bool {
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
	for dep := range e.ix.svcDeps[svc] {
		f := e.ix.frags[dep]
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
