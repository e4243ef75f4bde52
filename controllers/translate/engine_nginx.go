package translate

import (
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/portico-dev/portico/router"
)

// What ingress-nginx Ingresses read of each other, for the Engine. Reading
// the translation (ingress.go, nginx_*.go), an Ingress of the ingress-nginx
// class depends on the others in three ways, each scoped by host:
//
//   - use-regex and rewrite-target make every ingress-nginx path of the
//     host a regular expression (nginxRegexHost), tried longest first
//     (sortNginxRegex);
//   - a canary path joins the route that wins its host and path
//     (mergeNginxCanaries);
//   - from-to-www-redirect adds a redirect only for a host no Ingress has
//     a rule for (hostRouted).
//
// The index counts, per host, the Ingresses making it a regex host and the
// Ingresses with a rule for it, and records which fragments asked about
// each host: when a count starts or stops being zero, those fragments are
// translated again. Canary paths are filed by claim, so that a change of a
// claim's winner re-assembles the host. Everything else an annotation
// reads (Services, Secrets, the controller's default backend) is recorded
// as the fragment's dependencies while it is translated.

// nginxIndex is the part of engineIndex about ingress-nginx Ingresses.
type nginxIndex struct {
	// contrib is what each Ingress (of any class) adds to ruleHosts and
	// regexHosts.
	contrib    map[nsName]hostContrib
	ruleHosts  map[string]int
	regexHosts map[string]int
	// askedRegex and askedRouted hold the fragments that asked about each
	// host.
	askedRegex, askedRouted map[string]map[nsName]bool
	// canaries holds the canary paths claiming each host and path, oldest
	// Ingress first (claimant.i indexes ingressFrag.canaries);
	// hostCanaries the fragments with canary paths on each host, and
	// withCanaries every fragment with canary paths.
	canaries     map[claimKey][]claimant
	hostCanaries map[hostID]map[nsName]bool
	withCanaries map[nsName]bool
}

// hostContrib lists the hosts (lower case) of an Ingress's rules, and
// those it makes regex hosts.
type hostContrib struct {
	routed, regex []string
}

func newNginxIndex() nginxIndex {
	return nginxIndex{
		contrib: map[nsName]hostContrib{}, ruleHosts: map[string]int{}, regexHosts: map[string]int{},
		askedRegex: map[string]map[nsName]bool{}, askedRouted: map[string]map[nsName]bool{},
		canaries: map[claimKey][]claimant{}, hostCanaries: map[hostID]map[nsName]bool{}, withCanaries: map[nsName]bool{},
	}
}

// contribOf is what an Ingress adds to the host counts, by the rules of
// hostRouted and nginxRegexHost.
func contribOf(ing *networkingv1.Ingress, classes []networkingv1.IngressClass, opts Options) hostContrib {
	var c hostContrib
	nginx := opts.Nginx != nil && hasNginxAnnotation(ing) && IsNginxIngress(ing, classes, opts)
	for _, rule := range ing.Spec.Rules {
		c.routed = append(c.routed, strings.ToLower(rule.Host))
	}
	if nginx {
		c.regex = slices.AppendSeq(c.regex, nginxRegexHostsOf(ing))
	}
	slices.Sort(c.routed)
	slices.Sort(c.regex)
	c.routed, c.regex = slices.Compact(c.routed), slices.Compact(c.regex)
	return c
}

// setContrib replaces what the Ingress k adds to the host counts (ing nil:
// it is gone) and adds to affected the fragments that asked about a host
// whose answer changed.
func (ix *engineIndex) setContrib(k nsName, ing *networkingv1.Ingress, classes []networkingv1.IngressClass, opts Options, affected map[nsName]bool) {
	old := ix.contrib[k]
	var next hostContrib
	if ing != nil {
		next = contribOf(ing, classes, opts)
		ix.contrib[k] = next
	} else {
		delete(ix.contrib, k)
	}
	recount(ix.ruleHosts, old.routed, next.routed, ix.askedRouted, affected)
	recount(ix.regexHosts, old.regex, next.regex, ix.askedRegex, affected)
}

// recount moves one Ingress's count from the hosts of old to those of next;
// for a host counted or no longer counted, the fragments that asked about
// it go to affected.
func recount(counts map[string]int, old, next []string, asked map[string]map[nsName]bool, affected map[nsName]bool) {
	if slices.Equal(old, next) {
		return
	}
	flip := func(h string) {
		for k := range asked[h] {
			affected[k] = true
		}
	}
	for _, h := range old {
		if counts[h]--; counts[h] == 0 {
			delete(counts, h)
			if !slices.Contains(next, h) {
				flip(h)
			}
		}
	}
	for _, h := range next {
		if counts[h]++; counts[h] == 1 && !slices.Contains(old, h) {
			flip(h)
		}
	}
}

// addNginx files what a fragment asked and its canary paths.
func (ix *engineIndex) addNginx(f *ingressFrag, k nsName, ch *changeSet) {
	for _, h := range f.askedRegex {
		addTo(ix.askedRegex, h, k)
	}
	for _, h := range f.askedRouted {
		addTo(ix.askedRouted, h, k)
	}
	for i := range f.canaries {
		key := f.canaries[i].key
		list := ix.canaries[key]
		c := claimant{f, i}
		at, _ := slices.BinarySearchFunc(list, c, compareClaimants)
		ix.canaries[key] = slices.Insert(list, at, c)
		ch.claims[key] = true
		addTo(ix.hostCanaries, hostID{key.host, key.hostMatch}, k)
		ix.withCanaries[k] = true
	}
}

// removeNginx undoes addNginx.
func (ix *engineIndex) removeNginx(f *ingressFrag, k nsName, ch *changeSet) {
	for _, h := range f.askedRegex {
		removeFrom(ix.askedRegex, h, k)
	}
	for _, h := range f.askedRouted {
		removeFrom(ix.askedRouted, h, k)
	}
	for i := range f.canaries {
		key := f.canaries[i].key
		list := slices.DeleteFunc(ix.canaries[key], func(c claimant) bool { return c.f == f })
		if len(list) == 0 {
			delete(ix.canaries, key)
		} else {
			ix.canaries[key] = list
		}
		ch.claims[key] = true
		removeFrom(ix.hostCanaries, hostID{key.host, key.hostMatch}, k)
	}
	delete(ix.withCanaries, k)
}

// noteMain records at which position of a route list the winner of key
// is, when a canary path claims key.
func (ix *engineIndex) noteMain(mains map[claimKey]int, key claimKey, at int) map[claimKey]int {
	if ix.canaries[key] == nil {
		return mains
	}
	if mains == nil {
		mains = map[claimKey]int{}
	}
	mains[key] = at
	return mains
}

// mergeCanaries merges into routes, as mergeNginxCanaries does, the canary
// paths of frags (oldest first) whose claim keep accepts: the first canary
// of a host and path whose winner is of the ingress-nginx class joins the
// winning route (at mains[key]); the header and cookie routes it adds come
// after routes, in canary order.
func (ix *engineIndex) mergeCanaries(routes []router.Route, mains map[claimKey]int, frags []*ingressFrag, keep func(claimKey) bool) []router.Route {
	var added []router.Route
	for _, f := range frags {
		for i := range f.canaries {
			c := &f.canaries[i]
			if !keep(c.key) {
				continue
			}
			if first := ix.canaries[c.key][0]; first.f != f || first.i != i {
				continue
			}
			if w := ix.claims[c.key]; len(w) == 0 || !w[0].f.nginx {
				continue
			}
			at, ok := mains[c.key]
			if !ok {
				continue
			}
			main := &routes[at]
			if len(main.Headers) > 0 || routeClaimKey(main) != c.key {
				continue
			}
			added = append(added, c.canary.routes(main, c.backends)...)
			main.Backends = c.canary.weighted(main.Backends, c.backends)
		}
	}
	return append(routes, added...)
}

// canaryProblem is the problem of the canary path f.canaries[i], if any.
func (ix *engineIndex) canaryProblem(f *ingressFrag, i int) (Problem, bool) {
	c := &f.canaries[i]
	w := ix.claims[c.key]
	switch {
	case len(w) == 0:
		return canaryWithoutMain(f.ref, c.field, c.raw, c.key, nil), true
	case !w[0].f.nginx:
		return canaryWithoutMain(f.ref, c.field, c.raw, c.key, &w[0].f.ref), true
	}
	if first := ix.canaries[c.key][0]; first.f != f || first.i != i {
		return canaryConflict(f.ref, c.field, first.f.ref), true
	}
	return Problem{}, false
}
