package translate

import (
	"cmp"
	"reflect"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/portico-dev/portico/router"
	"github.com/portico-dev/portico/serving"
	certs "github.com/portico-dev/portico/tls"
)

// Update is the outcome of Engine.Update.
type Update struct {
	// Table serves the new configuration. It is a new Table, or, when
	// nothing served changed, the previous one.
	Table *router.Table
	// Whole says everything was translated again; Result is then the
	// complete translation, as Translate returns it.
	Whole  bool
	Result *Result
	// Serving is what the data plane needs besides the Table (its Config
	// is left empty when not Whole): the certificates, the default
	// certificate, the ACME hosts, the Gateway listeners.
	Serving *serving.Model
	// CertsChanged says the certificates may differ from the last
	// Update's (always true when Whole); ACMEHosts are then the hosts
	// whose certificates come from ACME.
	CertsChanged bool
	ACMEHosts    []ACMEHost
	// Changed lists, when not Whole, the Ingresses whose translation
	// changed: their problems or whether Portico owns them (see
	// Engine.Problems and Engine.Owns), in namespace/name order.
	Changed []ObjectRef
	// Retranslated counts the Ingresses translated again.
	Retranslated int
}

// sameOptions compares what translation reads of the Options, apart from
// Now (see changesAt) and the parse cache.
func sameOptions(a, b Options) bool {
	a.Now, a.CertCache = b.Now, b.CertCache
	return reflect.DeepEqual(a, b)
}

// Update translates what changed since the last Update (everything the
// first time) and returns the Table to serve.
func (e *Engine) Update(opts Options) Update {
	if e.wholeOnly(opts) {
		res := Translate(e.Snapshot(), opts)
		e.table = router.Compile(res.Config)
		e.started, e.ix, e.opts = false, nil, opts
		e.resetDirty()
		return Update{Table: e.table, Whole: true, Result: &res, Serving: res.Serving(), CertsChanged: true,
			ACMEHosts: res.ACMEHosts, Retranslated: len(e.ingresses)}
	}
	// Certificates are checked against Now: a clock that went back, or
	// one that reached a certificate's expiry or start, may change any.
	if !e.started || e.full || !sameOptions(e.opts, opts) || opts.Now.Before(e.opts.Now) ||
		!e.ix.changesAt.IsZero() && !opts.Now.Before(e.ix.changesAt) {
		return e.rebuild(opts)
	}
	return e.incremental(opts)
}

// classes lists the IngressClasses for OwnsIngress.
func (e *Engine) classList() []networkingv1.IngressClass {
	out := make([]networkingv1.IngressClass, 0, len(e.classes))
	for _, c := range e.classes {
		out = append(out, *c)
	}
	return out
}

// rebuild translates every Ingress into a fragment again and compiles the
// whole Table.
func (e *Engine) rebuild(opts Options) Update {
	e.opts, e.started = opts, true
	e.resolver = e.newResolver()
	e.ix = newEngineIndex()
	e.resetDirty()
	classes := e.classList()
	ch := newChangeSet()
	for k, ing := range e.ingresses {
		e.ix.setContrib(k, ing, classes, opts, map[nsName]bool{})
	}
	for _, ing := range e.ingresses {
		if OwnsIngress(ing, classes, opts) {
			e.ix.add(e.translateIngress(ing, classes, opts), ch)
		}
	}
	res := e.Result()
	e.table = router.Compile(res.Config)
	e.certs, e.acme = res.Certificates, res.ACMEHosts
	e.defCert = res.DefaultCertificate
	return Update{Table: e.table, Whole: true, Result: &res, Serving: res.Serving(), CertsChanged: true,
		ACMEHosts: res.ACMEHosts, Retranslated: len(e.ix.frags)}
}

// newResolver makes the backend resolver of the Engine's objects: the
// Engine's own maps, and a cache of Backends that Update empties for the
// Services that change.
func (e *Engine) newResolver() *backendResolver {
	return &backendResolver{
		services: e.services, slices: e.bySvc,
		made: map[backendKey]*router.Backend{}, variants: map[string]*router.Backend{},
		targetOf: map[*router.Backend]policyTarget{}, unsupported: map[*router.Backend]string{},
		madeBySvc: map[nsName][]backendKey{},
	}
}

// forgetService drops the resolver's Backends of a Service that changed.
func (r *backendResolver) forgetService(svc nsName) {
	for _, k := range r.madeBySvc[svc] {
		if b, ok := r.made[k]; ok {
			delete(r.made, k)
			delete(r.unsupported, b)
		}
	}
	delete(r.madeBySvc, svc)
	r.forgetVariants(svc)
}

// incremental re-translates the Ingresses that changed or name something
// that changed, and patches the hosts whose routes changed.
func (e *Engine) incremental(opts Options) Update {
	e.opts = opts
	affected := map[nsName]bool{}
	classes := e.classList()
	for k := range e.dirtyIngresses {
		affected[k] = true
		e.ix.setContrib(k, e.ingresses[k], classes, opts, affected)
	}
	ch := newChangeSet()
	for s := range e.dirtyEndpoints {
		if !e.dirtyServices[s] && !e.swapEndpoints(s, ch, affected) {
			e.dirtyServices[s] = true
		}
	}
	for s := range e.dirtyServices {
		e.resolver.forgetService(s)
		for k := range e.ix.svcDeps[s] {
			affected[k] = true
		}
	}
	for s := range e.dirtySecrets {
		for k := range e.ix.secretDeps[s] {
			affected[k] = true
		}
	}
	e.resetDirty()
	if len(affected) > 0 {
		for k := range affected {
			if old := e.ix.frags[k]; old != nil {
				e.ix.remove(old, ch)
			}
			ch.objects[k] = true
			if ing := e.ingresses[k]; ing != nil && OwnsIngress(ing, classes, opts) {
				e.ix.add(e.translateIngress(ing, classes, opts), ch)
			}
		}
	}
	// Every claimant of a claim that changed may have won or lost it.
	for key := range ch.claims {
		for _, c := range e.ix.claims[key] {
			ch.objects[nsName{c.f.ref.Namespace, c.f.ref.Name}] = true
		}
		for _, c := range e.ix.canaries[key] {
			ch.objects[nsName{c.f.ref.Namespace, c.f.ref.Name}] = true
		}
		if key.path != passthroughPath {
			ch.hosts[hostID{key.host, key.hostMatch}] = true
		} else {
			ch.l4 = true
		}
	}
	if ch.defaults {
		for k := range e.ix.defaults {
			ch.objects[k] = true
		}
	}
	var p router.Patch
	hosts := make([]hostID, 0, len(ch.hosts))
	for h := range ch.hosts {
		hosts = append(hosts, h)
	}
	slices.SortFunc(hosts, func(a, b hostID) int { return cmp.Or(cmp.Compare(a.host, b.host), cmp.Compare(a.match, b.match)) })
	for _, h := range hosts {
		p.Hosts = append(p.Hosts, e.ix.hostRoutes(h))
	}
	def, _ := e.defaultRoute()
	p.Default, p.SetDefault = def, true
	if ch.l4 {
		p.L4 = &router.Config{Passthrough: e.ix.passthrough()}
	}
	e.table = e.table.Patch(p)
	if ch.certs {
		e.certs, e.acme = e.certificates()
	}
	m := &serving.Model{Certificates: e.certs, DefaultCertificate: e.defaultCertificate()}
	for _, h := range e.acme {
		m.ACMEHosts = append(m.ACMEHosts, serving.ACMEHost{Hosts: h.Hosts, Source: h.Source.String()})
	}
	if !sameCertificate(m.DefaultCertificate, e.defCert) {
		ch.certs = true
		e.defCert = m.DefaultCertificate
	}
	u := Update{Table: e.table, Serving: m, CertsChanged: ch.certs, ACMEHosts: e.acme, Retranslated: len(affected)}
	for k := range ch.objects {
		u.Changed = append(u.Changed, ObjectRef{Kind: ingressKind, Namespace: k.ns, Name: k.name})
	}
	slices.SortFunc(u.Changed, func(a, b ObjectRef) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return u
}

func sameCertificate(a, b *certs.Certificate) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Cert == b.Cert && a.Source == b.Source
}

// global is what Translate adds after every Ingress: the controller's
// default backend (when no Ingress sets one) and the default certificate,
// with their problems.
func (e *Engine) global() (*common, *ingressFrag) {
	c := &common{opts: e.opts, backends: e.resolver, secrets: e.secrets}
	t := &ingressProcessor{common: c}
	f := e.ix.defaultFrag()
	if f != nil {
		c.res.Config.Default = f.def.route
	}
	t.controllerDefault()
	c.defaultCertificate()
	return c, f
}

// defaultRoute returns the default route and the problems of the
// controller's defaults.
func (e *Engine) defaultRoute() (*router.Route, []Problem) {
	c, _ := e.global()
	return c.res.Config.Default, c.res.Problems
}

func (e *Engine) defaultCertificate() *certs.Certificate {
	c, _ := e.global()
	return c.res.DefaultCertificate
}

// certificates lists the certificates and ACME hosts, oldest Ingress
// first.
func (e *Engine) certificates() ([]certs.Certificate, []ACMEHost) {
	var cs []certs.Certificate
	var acme []ACMEHost
	for _, f := range e.ix.sortedFrags(e.ix.withCerts) {
		cs = append(cs, f.certs...)
		acme = append(acme, f.acme...)
	}
	return cs, acme
}

// Owns reports whether Portico owns the Ingress (after the last Update).
func (e *Engine) Owns(namespace, name string) bool {
	return e.ix != nil && e.ix.frags[nsName{namespace, name}] != nil
}

// Problems returns the problems of an Ingress after the last Update, in
// Result order.
func (e *Engine) Problems(ref ObjectRef) []Problem {
	if e.ix == nil || ref.Kind != ingressKind {
		return nil
	}
	f := e.ix.frags[nsName{ref.Namespace, ref.Name}]
	if f == nil {
		return nil
	}
	return e.ix.problems(f, e.ix.defaultFrag())
}

// GlobalProblems returns the problems of the controller's own defaults
// (--default-backend, --default-certificate) after the last Update.
func (e *Engine) GlobalProblems() []Problem {
	if e.ix == nil {
		return nil
	}
	c, _ := e.global()
	return c.res.Problems
}

// AllProblems returns every problem after the last Update, in Result
// order, without materialising the rest of the Result.
func (e *Engine) AllProblems() []Problem {
	if e.ix == nil {
		res := Translate(e.Snapshot(), e.opts)
		return res.Problems
	}
	def := e.ix.defaultFrag()
	out := e.GlobalProblems()
	for _, f := range e.ix.frags {
		if f.def != nil || len(f.problems) > 0 || len(f.passthrough) > 0 || len(f.canaries) > 0 || !e.ix.winsAll(f) {
			out = append(out, e.ix.problems(f, def)...)
			continue
		}
		for i := range f.routes {
			out = append(out, f.routes[i].problems...)
		}
	}
	sortProblems(out)
	return slices.Compact(out)
}

// Result materialises the whole translation after the last Update, as
// Translate would return it for Snapshot(). It costs what a walk over every
// fragment costs: Update does not need it, tools and tests do.
func (e *Engine) Result() Result {
	if e.ix == nil {
		return Translate(e.Snapshot(), e.opts)
	}
	frags := make([]*ingressFrag, 0, len(e.ix.frags))
	for _, f := range e.ix.frags {
		frags = append(frags, f)
	}
	slices.SortFunc(frags, compareFrags)
	c, def := e.global()
	res := c.res
	n := 0
	for _, f := range frags {
		n += len(f.routes)
	}
	res.Config.Routes = make([]router.Route, 0, n)
	var problems []Problem
	var mains map[claimKey]int
	for _, f := range frags {
		for i := range f.routes {
			fr := &f.routes[i]
			if w := e.ix.winner(fr.key); w.f == f && w.i == i {
				mains = e.ix.noteMain(mains, fr.key, len(res.Config.Routes))
				res.Config.Routes = append(res.Config.Routes, e.ix.served(f, fr))
			}
		}
		problems = append(problems, e.ix.problems(f, def)...)
	}
	if len(e.ix.withCanaries) > 0 {
		res.Config.Routes = e.ix.mergeCanaries(res.Config.Routes, mains, e.ix.sortedFrags(e.ix.withCanaries),
			func(claimKey) bool { return true })
	}
	if len(e.ix.regexHosts) > 0 {
		sortNginxRegex(res.Config.Routes, func(h string) bool { return e.ix.regexHosts[h] > 0 })
	}
	res.Config.Passthrough = e.ix.passthrough()
	res.Certificates, res.ACMEHosts = e.certificates()
	res.Ingresses = make([]ObjectRef, 0, len(frags))
	for _, f := range frags {
		res.Ingresses = append(res.Ingresses, f.ref)
	}
	slices.SortFunc(res.Ingresses, func(a, b ObjectRef) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	res.Problems = append(problems, res.Problems...)
	sortProblems(res.Problems)
	res.Problems = slices.Compact(res.Problems)
	return res
}
