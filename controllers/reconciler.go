package controllers

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/dataplane"
)

// snapshotKey is the one work-queue key: every event of every watched kind
// enqueues it, so a burst of changes collapses into one rebuild.
var snapshotKey = reconcile.Request{NamespacedName: client.ObjectKey{Name: "snapshot"}}

// recheckInterval bounds how long a certificate that expired, or a client
// CA Secret outside the cache that changed, goes unnoticed.
const recheckInterval = 5 * time.Minute

// Reconciler rebuilds the routing table from what changed and, when this
// replica leads, writes status and Events. It runs on every replica.
type Reconciler struct {
	Client client.Client
	// APIReader reads Secrets the cache does not hold (client CAs of type
	// Opaque), only those an Ingress names.
	APIReader client.Reader
	Dataplane *dataplane.Dataplane
	// ACME, when set, obtains certificates for the Result's ACMEHosts.
	ACME      *acmeManager
	Translate translate.Options
	// Namespace limits listing ("" for all).
	Namespace string
	Publish   Publish
	Recorder  events.EventRecorder
	// IsLeader reports whether this replica may write status and Events.
	IsLeader func() bool
	Metrics  *controllerMetrics

	// Gateway configures the Gateway API; gatewayKinds says which of its
	// kinds the cluster serves, gateways runs their listeners.
	Gateway      GatewayOptions
	gatewayKinds gatewayKinds
	gateways     *gatewayListeners
	// istioOn is set once the Istio CRDs are watched; ctrl is the
	// controller, for watches added later.
	istioOn atomic.Bool
	ctrl    controller.Controller
	// policiesOn is set once Portico's policy CRDs are watched.
	policiesOn atomic.Bool

	mu       sync.Mutex
	reported map[translate.ObjectRef]map[string]bool // problems already sent as Events
	// configMaps holds the referenced ConfigMaps between rebuilds.
	configMaps configMaps
	// nginx is ingress-nginx's controller ConfigMap (see nginx.go).
	nginx nginxConfig
	// nextPort is where the search for a free internal port starts.
	nextPort int32
	// kick triggers a rebuild from outside the watches (leadership won).
	kick chan event.GenericEvent

	// engine translates incrementally; pending holds the changes the
	// watches saw since the last rebuild; resync asks the next rebuild to
	// list everything again (see rebuild.go), lastResync is when that was
	// last done. Applied records when each object's change was served.
	engine     *translate.Engine
	engineMu   sync.Mutex // held by Reconcile; the debug pages take it to ask the Engine
	pending    pendingChanges
	resync     atomic.Bool
	lastResync time.Time
	Applied    *dataplane.AppliedLog
	// refs are the Secrets and ConfigMaps outside the cache that rebuilds
	// read; refCache, when set, watches their metadata (see refwatch.go).
	refs     refObjects
	refCache cache.Cache
	// problems, when set, receives the problems of each table served.
	problems *currentProblems
	// published are the addresses last written into Ingress status.
	published []networkingv1.IngressLoadBalancerIngress
}

// Kick asks for a rebuild from a fresh listing of every object (and, as
// leader, a status write of every object) soon; it never blocks, and kicks
// that arrive while one is pending are merged.
func (r *Reconciler) Kick() {
	r.resync.Store(true)
	select {
	case r.kick <- event.GenericEvent{Object: &networkingv1.IngressClass{}}:
	default:
	}
}

// SetupWithManager registers the reconciler and its watches.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	all := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{snapshotKey}
	})
	// The kinds the translation Engine holds are recorded as they change,
	// so a rebuild reads only what changed (see rebuild.go).
	record := recordingHandler(&r.pending)
	initial := make(chan event.GenericEvent, 1)
	initial <- event.GenericEvent{Object: &networkingv1.IngressClass{}}
	if r.kick == nil {
		r.kick = make(chan event.GenericEvent, 1)
	}
	noLeader, skipNameCheck := false, true
	b := ctrl.NewControllerManagedBy(mgr)
	if r.Publish.Service != "" && len(r.Publish.Addresses) == 0 {
		// Node addresses are published for a NodePort Service. Nodes update
		// their status often; only address changes matter.
		b = b.Watches(&corev1.Node{}, all, builder.WithPredicates(predicate.Funcs{
			UpdateFunc: func(e event.UpdateEvent) bool {
				o, n := e.ObjectOld.(*corev1.Node), e.ObjectNew.(*corev1.Node)
				return !equality.Semantic.DeepEqual(o.Status.Addresses, n.Status.Addresses)
			},
		}))
	}
	if r.gatewayKinds.enabled() {
		// ConfigMaps hold Gateway parameters and CA bundles: only their
		// metadata is cached, enough to notice a change; the ones named are
		// read directly.
		b = b.Watches(&gatewayv1.GatewayClass{}, all).
			Watches(&gatewayv1.Gateway{}, all).
			Watches(&corev1.Namespace{}, all, builder.OnlyMetadata).
			Watches(&corev1.ConfigMap{}, all, builder.OnlyMetadata)
		if r.gatewayKinds.httpRoutes {
			b = b.Watches(&gatewayv1.HTTPRoute{}, all)
		}
		if r.gatewayKinds.grpcRoutes {
			b = b.Watches(&gatewayv1.GRPCRoute{}, all)
		}
		if r.gatewayKinds.tlsRoutes {
			b = b.Watches(&gatewayv1.TLSRoute{}, all)
		}
		if r.gatewayKinds.tcpRoutes {
			b = b.Watches(&gatewayv1.TCPRoute{}, all)
		}
		if r.gatewayKinds.grants {
			b = b.Watches(&gatewayv1.ReferenceGrant{}, all)
		}
		if r.gatewayKinds.tlsPolicies {
			b = b.Watches(&gatewayv1.BackendTLSPolicy{}, all)
		}
	}
	if r.Translate.Nginx != nil && r.nginx.key.Name != "" {
		// ingress-nginx's ConfigMap: its metadata is cached to notice a
		// change, its content read directly (see nginx.go).
		b = b.Watches(&corev1.ConfigMap{}, all, builder.OnlyMetadata,
			builder.WithPredicates(predicate.NewPredicateFuncs(r.isNginxConfigMap)))
	}
	if r.refCache != nil {
		for _, src := range r.refSources(r.refCache) {
			b = b.WatchesRawSource(src)
		}
	}
	c, err := b.
		Named("portico").
		// Several controllers may share a process (tests); names need not
		// be unique.
		WithOptions(controller.Options{MaxConcurrentReconciles: 1, NeedLeaderElection: &noLeader, SkipNameValidation: &skipNameCheck}).
		Watches(&networkingv1.IngressClass{}, record).
		Watches(&networkingv1.Ingress{}, record).
		Watches(&corev1.Service{}, record).
		Watches(&discoveryv1.EndpointSlice{}, record).
		Watches(&corev1.Secret{}, record).
		WatchesRawSource(source.Channel(initial, all)).
		WatchesRawSource(source.Channel(r.kick, all)).
		Build(r)
	r.ctrl = c
	return err
}
