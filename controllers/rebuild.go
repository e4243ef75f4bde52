package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/portico-dev/portico/controllers/translate"
)

// Reconcile applies what changed since the last rebuild to the translation
// Engine, swaps in the table it returns, then, as leader, writes status and
// Events for what changed. Nothing is listed: the watches' handlers have
// delivered every object before the first rebuild (controller-runtime
// starts workers once each handler has seen its informer's initial list),
// and record every change after. The first rebuild, a Kick and one every
// recheckInterval also read again the client-CA Secrets outside the cache
// that Ingresses name, and write status and Events for every object; the
// Engine itself notices certificates expiring or becoming valid. An API
// error keeps the current table serving, and the changes taken are kept
// for the next attempt.
func (r *Reconciler) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	start := time.Now()
	log := ctrl.LoggerFrom(ctx)
	r.engineMu.Lock()
	defer r.engineMu.Unlock()
	if r.engine == nil {
		r.engine = translate.NewEngine()
	}
	changes := r.pending.take()
	dirty := r.refs.takeDirty()
	resync := r.resync.Swap(false) || time.Since(r.lastResync) >= recheckInterval
	fail := func(err error) (reconcile.Result, error) {
		r.pending.restore(changes)
		r.refs.restoreDirty(dirty)
		if resync {
			r.resync.Store(true)
		}
		r.Metrics.observe(start, err)
		return reconcile.Result{}, err
	}
	if err := r.applyChanges(ctx, changes, resync); err != nil {
		return fail(err)
	}
	if err := r.readChangedRefs(ctx, dirty); err != nil {
		return fail(err)
	}
	others := &translate.Snapshot{}
	err := listGatewayAPI(ctx, r.Client, r.APIReader, &r.configMaps, r.Namespace, r.gatewayKinds, others)
	if err == nil && r.policiesOn.Load() {
		// With policies (or an Ingress naming one) the Engine translates
		// whole; the Secrets and ConfigMaps they name are read anew.
		var named map[refKey]bool
		if named, err = listPolicies(ctx, r.Client, r.APIReader, r.Namespace, others); err == nil {
			r.refs.setPolicy(named)
		}
	}
	var istioSvc *corev1.Service
	if err == nil && r.istioOn.Load() {
		err = listIstio(ctx, r.Client, r.Namespace, others)
		if err == nil {
			istioSvc, err = r.istioService(ctx)
		}
	}
	if err != nil {
		return fail(err)
	}
	r.engine.SetOthers(others)
	opts, err := r.nginxOptions(ctx, r.translateOptions(istioSvc))
	if err != nil {
		return fail(err)
	}
	u := r.engine.Update(opts)
	res := translate.Result{}
	if u.Whole {
		res = *u.Result
	}
	first := !r.Dataplane.Ready()
	table := r.Dataplane.ApplyTable(u.Serving, u.Table, u.CertsChanged)
	swapped := time.Now()
	if first {
		// Where a cold start went: the process and the caches' initial
		// lists until this first rebuild started, then the rebuild.
		log.Info("first routing table live", "sinceProcessStart", swapped.Sub(processStart).String(),
			"rebuildStartedAfter", start.Sub(processStart).String(), "rebuild", swapped.Sub(start).String(),
			"changes", len(changes), "routes", table.RouteCount())
	}
	if u.CertsChanged {
		r.Dataplane.CertCache.Sweep()
	}
	if resync {
		r.lastResync = start
	}
	r.Metrics.propagated(changes, swapped)
	r.recordApplied(changes, table.Generation, swapped)
	translate.ApplyDrops(&res, table.Dropped())
	r.trackProblems(u, &res, table)
	if r.ACME != nil && u.CertsChanged {
		r.ACME.Manage(u.ACMEHosts)
	}
	log.V(1).Info("routing table swapped", "generation", table.Generation, "routes", table.RouteCount(),
		"whole", u.Whole, "retranslated", u.Retranslated, "changes", len(changes), "took", swapped.Sub(start))
	if err := r.reconcileGateways(ctx, &res, istioSvc); err != nil {
		r.Metrics.observe(start, err)
		return reconcile.Result{}, err
	}
	if r.IsLeader() {
		if err := r.report(ctx, u, &res, resync); err != nil {
			r.Metrics.observe(start, err)
			return reconcile.Result{}, err
		}
		if u.Whole {
			if err := r.writePorticoPolicyStatus(ctx, &res); err != nil {
				r.Metrics.observe(start, err)
				return reconcile.Result{}, err
			}
		}
	}
	r.Metrics.observe(start, nil)
	// Certificates expire by the clock alone; look again regularly.
	return reconcile.Result{RequeueAfter: recheckInterval}, nil
}

// processStart is about when the process started (package
// initialisation), for the cold start's log line.
var processStart = time.Now()

// translateOptions are the Options of one rebuild.
func (r *Reconciler) translateOptions(istioSvc *corev1.Service) translate.Options {
	opts := r.Translate
	opts.Now = time.Now()
	if opts.Istio != nil {
		if !r.istioOn.Load() {
			opts.Istio = nil
		} else {
			io := *opts.Istio
			io.MainPorts, io.Namespace = istioMainPorts(istioSvc), r.Gateway.Namespace
			opts.Istio = &io
		}
	}
	opts.CertCache = r.Dataplane.CertCache
	return opts
}

// applyChanges gives the Engine what the watches saw, and reads the
// client-CA Secrets that Ingresses name and the cache (TLS Secrets only)
// does not hold: those of the changed Ingresses, or of all with every.
func (r *Reconciler) applyChanges(ctx context.Context, changes map[changeKey]change, every bool) error {
	var ings []networkingv1.Ingress
	for k, c := range changes {
		if c.obj == nil {
			r.engine.Delete(k.kind, k.namespace, k.name)
			continue
		}
		r.engine.Set(c.obj)
		if ing, ok := c.obj.(*networkingv1.Ingress); ok && !every && namesSecrets(ing) {
			ings = append(ings, *ing)
		}
	}
	if every {
		for ing := range r.engine.Ingresses() {
			if namesSecrets(ing) {
				ings = append(ings, *ing)
			}
		}
	}
	var named []client.ObjectKey
	for i := range ings {
		named = append(named, ingressSecretKeys(&ings[i])...)
	}
	r.refs.setIngress(named, every)
	if len(ings) == 0 {
		return nil
	}
	var cached []corev1.Secret
	for i := range ings {
		ns, name := clientCAName(&ings[i])
		if s := r.engine.Secret(ns, name); s != nil && s.Type == corev1.SecretTypeTLS {
			cached = append(cached, *s)
		}
	}
	extra, err := referencedSecrets(ctx, r.APIReader, ings, cached)
	if err != nil {
		return err
	}
	for i := range extra {
		r.engine.Set(&extra[i])
	}
	return nil
}

// recordApplied notes in the applied log which table serves each change.
func (r *Reconciler) recordApplied(changes map[changeKey]change, gen uint64, at time.Time) {
	if r.Applied == nil {
		return
	}
	for k, c := range changes {
		r.Applied.RecordChange(k.kind+"/"+k.namespace+"/"+k.name, c.obj == nil, gen, c.seen, at)
	}
	r.Applied.Forget(at.Add(-time.Hour))
}

// report writes status and Events: for every object after a whole
// translation, with every (see Reconcile), or when the addresses to
// publish changed; else for the Ingresses whose translation changed.
func (r *Reconciler) report(ctx context.Context, u translate.Update, res *translate.Result, every bool) error {
	want, err := r.Publish.addresses(ctx, r.Client)
	if err != nil {
		return err
	}
	moved := !equality.Semantic.DeepEqual(want, r.published)
	switch {
	case u.Whole:
		snap := r.engine.Snapshot()
		r.reportProblems(snap, res.Problems)
		owned := map[client.ObjectKey]bool{}
		for _, ref := range res.Ingresses {
			owned[client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}] = true
		}
		ings := make([]*networkingv1.Ingress, len(snap.Ingresses))
		for i := range snap.Ingresses {
			ings[i] = &snap.Ingresses[i]
		}
		if err := r.writeStatus(ctx, ings, func(k client.ObjectKey) bool { return owned[k] }, want); err != nil {
			return err
		}
	case every || moved:
		objects := map[translate.ObjectRef]runtime.Object{}
		var ings []*networkingv1.Ingress
		for ing := range r.engine.Ingresses() {
			objects[translate.ObjectRef{Kind: "Ingress", Namespace: ing.Namespace, Name: ing.Name}] = ing
			ings = append(ings, ing)
		}
		problems := append(r.engine.AllProblems(), translate.DropProblems(u.Table.Dropped())...)
		r.reportObjectProblems(objects, problems, nil)
		if err := r.writeStatus(ctx, ings, func(k client.ObjectKey) bool { return r.engine.Owns(k.Namespace, k.Name) }, want); err != nil {
			return err
		}
	default:
		objects := map[translate.ObjectRef]runtime.Object{}
		var ings []*networkingv1.Ingress
		problems := r.engine.GlobalProblems()
		for _, ref := range u.Changed {
			problems = append(problems, r.engine.Problems(ref)...)
			if ing := r.engine.Ingress(ref.Namespace, ref.Name); ing != nil {
				objects[ref] = ing
				ings = append(ings, ing)
			}
		}
		problems = append(problems, translate.DropProblems(u.Table.Dropped())...)
		r.reportObjectProblems(objects, problems, u.Changed)
		return r.writeStatus(ctx, ings, func(k client.ObjectKey) bool { return r.engine.Owns(k.Namespace, k.Name) }, want)
	}
	r.published = want
	return nil
}

// clientCAName is the Secret an Ingress's client-CA annotation names.
func clientCAName(ing *networkingv1.Ingress) (string, string) {
	v := ing.Annotations[translate.AnnotationClientCASecret]
	for i := 0; i < len(v); i++ {
		if v[i] == '/' {
			return v[:i], v[i+1:]
		}
	}
	return ing.Namespace, v
}

// readChangedRefs reads again the Secrets Ingresses name whose change the
// metadata watch saw (see refwatch.go).
func (r *Reconciler) readChangedRefs(ctx context.Context, dirty map[client.ObjectKey]bool) error {
	for key := range dirty {
		var s corev1.Secret
		switch err := r.APIReader.Get(ctx, key, &s); {
		case apierrors.IsNotFound(err):
			r.engine.Delete("Secret", key.Namespace, key.Name)
		case err != nil:
			return fmt.Errorf("getting Secret %s named by an Ingress: %w", key, err)
		default:
			r.engine.Set(&s)
		}
	}
	return nil
}
