package translate

import (
	"slices"
	"time"

	"github.com/portico-dev/portico/router"
)

// engineIndex holds the fragments of the Engine and what their merge
// depends on: which fragment wins each claim, which fragments have routes
// on each host, the TLS hosts, the default backends, and the reverse
// indexes from Services and Secrets to the Ingresses naming them.
type engineIndex struct {
	frags      map[nsName]*ingressFrag
	svcDeps    map[nsName]map[nsName]bool
	secretDeps map[nsName]map[nsName]bool
	// claims holds every claimant of a host and path (or passthrough
	// host), oldest first: the first wins.
	claims map[claimKey][]claimant
	// hosts holds the fragments with HTTP routes on each host.
	hosts map[hostID]map[nsName]bool
	// tlsHosts counts the fragments naming each host in spec.tls.
	tlsHosts map[string]int
	// defaults, l4 and withCerts hold the fragments with a default
	// backend, with passthrough hosts, with certificates or ACME hosts.
	defaults, l4, withCerts map[nsName]bool
	// changesAt is the earliest changesAt of the fragments (it may be
	// earlier than that of the fragments left: a rebuild then comes early).
	changesAt time.Time
	// What ingress-nginx Ingresses read of each other: see engine_nginx.go.
	nginxIndex
}

// hostID names the Ingress routes of one host on the shared listeners.
type hostID struct {
	host  string
	match router.HostMatch
}

// claimant is one claim of a fragment: routes[i], or passthrough[-1-i]
// when i is negative.
type claimant struct {
	f *ingressFrag
	i int
}

func newEngineIndex() *engineIndex {
	return &engineIndex{
		frags: map[nsName]*ingressFrag{}, svcDeps: map[nsName]map[nsName]bool{}, secretDeps: map[nsName]map[nsName]bool{},
		claims: map[claimKey][]claimant{}, hosts: map[hostID]map[nsName]bool{}, tlsHosts: map[string]int{},
		defaults: map[nsName]bool{}, l4: map[nsName]bool{}, withCerts: map[nsName]bool{},
		nginxIndex: newNginxIndex(),
	}
}

// changeSet collects what one Update changed.
type changeSet struct {
	hosts    map[hostID]bool
	claims   map[claimKey]bool
	objects  map[nsName]bool
	defaults bool
	l4       bool
	certs    bool
}

func newChangeSet() *changeSet {
	return &changeSet{hosts: map[hostID]bool{}, claims: map[claimKey]bool{}, objects: map[nsName]bool{}}
}

func compareClaimants(a, b claimant) int {
	if c := compareFrags(a.f, b.f); c != 0 {
		return c
	}
	// Within an Ingress, in translation order: passthrough hosts and
	// paths never share a claim key, so comparing positions suffices.
	return claimPos(a.i) - claimPos(b.i)
}

func claimPos(i int) int {
	if i < 0 {
		return -1 - i
	}
	return i
}

func addTo[K comparable](m map[K]map[nsName]bool, dep K, k nsName) {
	s := m[dep]
	if s == nil {
		s = map[nsName]bool{}
		m[dep] = s
	}
	s[k] = true
}

func removeFrom[K comparable](m map[K]map[nsName]bool, dep K, k nsName) {
	if s := m[dep]; s != nil {
		delete(s, k)
		if len(s) == 0 {
			delete(m, dep)
		}
	}
}

// add files a fragment in every index, noting in ch what it changes.
func (ix *engineIndex) add(f *ingressFrag, ch *changeSet) {
	k := nsName{f.ref.Namespace, f.ref.Name}
	ix.frags[k] = f
	ch.objects[k] = true
	for _, s := range f.services {
		addTo(ix.svcDeps, s, k)
	}
	for _, s := range f.secrets {
		addTo(ix.secretDeps, s, k)
	}
	for i := range f.routes {
		ix.addClaim(f.routes[i].key, claimant{f, i}, ch)
		h := hostID{f.routes[i].key.host, f.routes[i].key.hostMatch}
		s := ix.hosts[h]
		if s == nil {
			s = map[nsName]bool{}
			ix.hosts[h] = s
		}
		s[k] = true
		ch.hosts[h] = true
	}
	for i := range f.passthrough {
		ix.addClaim(f.passthrough[i].key, claimant{f, -1 - i}, ch)
	}
	if len(f.passthrough) > 0 {
		ix.l4[k] = true
		ch.l4 = true
	}
	for _, h := range f.tlsHosts {
		ix.tlsHosts[h]++
		if ix.tlsHosts[h] == 1 {
			ch.tlsHost(ix, h)
		}
	}
	if f.def != nil {
		ix.defaults[k] = true
		ch.defaults = true
	}
	if len(f.certs)+len(f.acme) > 0 {
		ix.withCerts[k] = true
		ch.certs = true
	}
	if !f.changesAt.IsZero() && (ix.changesAt.IsZero() || f.changesAt.Before(ix.changesAt)) {
		ix.changesAt = f.changesAt
	}
	ix.addNginx(f, k, ch)
}

// remove takes a fragment out of every index, noting in ch what it
// changes.
func (ix *engineIndex) remove(f *ingressFrag, ch *changeSet) {
	k := nsName{f.ref.Namespace, f.ref.Name}
	delete(ix.frags, k)
	ch.objects[k] = true
	for _, s := range f.services {
		removeFrom(ix.svcDeps, s, k)
	}
	for _, s := range f.secrets {
		removeFrom(ix.secretDeps, s, k)
	}
	for i := range f.routes {
		ix.removeClaim(f.routes[i].key, f, ch)
		h := hostID{f.routes[i].key.host, f.routes[i].key.hostMatch}
		if s := ix.hosts[h]; s != nil {
			delete(s, k)
			if len(s) == 0 {
				delete(ix.hosts, h)
			}
		}
		ch.hosts[h] = true
	}
	for i := range f.passthrough {
		ix.removeClaim(f.passthrough[i].key, f, ch)
	}
	if ix.l4[k] {
		delete(ix.l4, k)
		ch.l4 = true
	}
	for _, h := range f.tlsHosts {
		ix.tlsHosts[h]--
		if ix.tlsHosts[h] == 0 {
			delete(ix.tlsHosts, h)
			ch.tlsHost(ix, h)
		}
	}
	if ix.defaults[k] {
		delete(ix.defaults, k)
		ch.defaults = true
	}
	if ix.withCerts[k] {
		delete(ix.withCerts, k)
		ch.certs = true
	}
	ix.removeNginx(f, k, ch)
}

// tlsHost notes that whether h is a TLS host changed: every route of that
// host may redirect differently.
func (ch *changeSet) tlsHost(ix *engineIndex, h string) {
	for _, m := range []router.HostMatch{router.HostAny, router.HostExact, router.HostWildcardOneLabel} {
		if id := (hostID{h, m}); ix.hosts[id] != nil {
			ch.hosts[id] = true
		}
	}
}

func (ix *engineIndex) addClaim(key claimKey, c claimant, ch *changeSet) {
	list := ix.claims[key]
	i, _ := slices.BinarySearchFunc(list, c, compareClaimants)
	ix.claims[key] = slices.Insert(list, i, c)
	ch.claims[key] = true
}

func (ix *engineIndex) removeClaim(key claimKey, f *ingressFrag, ch *changeSet) {
	list := slices.DeleteFunc(ix.claims[key], func(c claimant) bool { return c.f == f })
	if len(list) == 0 {
		delete(ix.claims, key)
	} else {
		ix.claims[key] = list
	}
	ch.claims[key] = true
}

// winner returns the claimant that holds a claim.
func (ix *engineIndex) winner(key claimKey) claimant { return ix.claims[key][0] }

// winsAll reports whether a fragment wins every claim of its paths.
func (ix *engineIndex) winsAll(f *ingressFrag) bool {
	for i := range f.routes {
		if w := ix.winner(f.routes[i].key); w.f != f || w.i != i {
			return false
		}
	}
	return true
}

// sortedFrags returns the fragments named in set, oldest first.
func (ix *engineIndex) sortedFrags(set map[nsName]bool) []*ingressFrag {
	out := make([]*ingressFrag, 0, len(set))
	for k := range set {
		out = append(out, ix.frags[k])
	}
	slices.SortFunc(out, compareFrags)
	return out
}

// hostRoutes assembles the routes of one host as Translate orders them:
// Ingresses oldest first, each in rule and path order, only the claims
// each wins, with the HTTPS redirect of TLS hosts.
func (ix *engineIndex) hostRoutes(h hostID) router.HostRoutes {
	hr := router.HostRoutes{Host: h.host, HostMatch: h.match}
	var mains map[claimKey]int
	for _, f := range ix.sortedFrags(ix.hosts[h]) {
		for i := range f.routes {
			fr := &f.routes[i]
			if fr.key.host != h.host || fr.key.hostMatch != h.match {
				continue
			}
			if w := ix.winner(fr.key); w.f != f || w.i != i {
				continue
			}
			mains = ix.noteMain(mains, fr.key, len(hr.Routes))
			hr.Routes = append(hr.Routes, ix.served(f, fr))
		}
	}
	if cs := ix.hostCanaries[h]; len(cs) > 0 {
		hr.Routes = ix.mergeCanaries(hr.Routes, mains, ix.sortedFrags(cs), func(k claimKey) bool {
			return k.host == h.host && k.hostMatch == h.match
		})
	}
	if ix.regexHosts[h.host] > 0 {
		sortNginxRegex(hr.Routes, func(string) bool { return true })
	}
	return hr
}

// served is a winning route as served: with the HTTPS redirect of TLS
// hosts (unless its Ingress turned it off; an annotation may have set it
// already).
func (ix *engineIndex) served(f *ingressFrag, fr *fragRoute) router.Route {
	r := fr.route
	r.HTTPSRedirect = r.HTTPSRedirect || ix.tlsHosts[r.Host] > 0 && !f.noRedirect
	return r
}

// passthrough assembles every TLS passthrough route, oldest first.
func (ix *engineIndex) passthrough() []router.L4Route {
	var out []router.L4Route
	for _, f := range ix.sortedFrags(ix.l4) {
		for i := range f.passthrough {
			if w := ix.winner(f.passthrough[i].key); w.f == f && w.i == -1-i {
				out = append(out, f.passthrough[i].route)
			}
		}
	}
	return out
}

// defaultRoute returns the oldest Ingress default backend and the
// fragment it is from, or nil.
func (ix *engineIndex) defaultFrag() *ingressFrag {
	var best *ingressFrag
	for k := range ix.defaults {
		if f := ix.frags[k]; best == nil || compareFrags(f, best) < 0 {
			best = f
		}
	}
	return best
}

// problems returns the problems of one fragment as Translate reports
// them, given the claims and the default backend in use (def).
func (ix *engineIndex) problems(f *ingressFrag, def *ingressFrag) []Problem {
	out := slices.Clone(f.problems)
	for i := range f.routes {
		fr := &f.routes[i]
		if w := ix.winner(fr.key); w.f == f && w.i == i {
			out = append(out, fr.problems...)
		} else {
			sev := SeverityError
			if fr.warnConflict {
				sev = SeverityWarning
			}
			out = append(out, Problem{Object: f.ref, Field: fr.field, Severity: sev, Reason: reasonRouteConflict,
				Message: pathConflict(fr.key.host, fr.rawPath, fr.key.pathMatch, w.f.ref)})
		}
	}
	for i := range f.passthrough {
		fl := &f.passthrough[i]
		if w := ix.winner(fl.key); w.f == f && w.i == -1-i {
			out = append(out, fl.problems...)
		} else {
			out = append(out, Problem{Object: f.ref, Field: fl.field, Severity: SeverityError, Reason: reasonRouteConflict,
				Message: passthroughConflict(fl.key.host, w.f.ref)})
		}
	}
	for i := range f.canaries {
		if p, ok := ix.canaryProblem(f, i); ok {
			out = append(out, p)
		}
	}
	if f.def != nil {
		if def == f {
			out = append(out, f.def.problems...)
		} else {
			out = append(out, Problem{Object: f.ref, Field: "spec.defaultBackend", Severity: SeverityError,
				Reason: reasonDefaultConflict, Message: defaultConflict(def.ref)})
		}
	}
	sortProblems(out)
	return slices.Compact(out)
}
