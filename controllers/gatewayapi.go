package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/dataplane"
	"github.com/portico-dev/portico/router"
)

// gatewayKinds says which Gateway API kinds the cluster serves.
type gatewayKinds struct {
	classes, gateways, httpRoutes, grpcRoutes, tlsRoutes, tcpRoutes, grants, tlsPolicies bool
}

func (k gatewayKinds) enabled() bool { return k.classes && k.gateways }

// detectGatewayAPI asks the API server which Gateway API kinds exist, so
// Portico runs without the CRDs and says what is off.
func detectGatewayAPI(mapper meta.RESTMapper) (gatewayKinds, []string) {
	has := func(kind string) bool {
		_, err := mapper.RESTMapping(schema.GroupKind{Group: gatewayv1.GroupName, Kind: kind}, gatewayv1.GroupVersion.Version)
		return err == nil
	}
	k := gatewayKinds{classes: has("GatewayClass"), gateways: has("Gateway"), httpRoutes: has("HTTPRoute"),
		grpcRoutes: has("GRPCRoute"), tlsRoutes: has("TLSRoute"), tcpRoutes: has("TCPRoute"), grants: has("ReferenceGrant"),
		tlsPolicies: has("BackendTLSPolicy")}
	var missing []string
	for name, ok := range map[string]bool{"GatewayClass": k.classes, "Gateway": k.gateways, "HTTPRoute": k.httpRoutes,
		"GRPCRoute": k.grpcRoutes, "TLSRoute": k.tlsRoutes, "TCPRoute": k.tcpRoutes, "ReferenceGrant": k.grants,
		"BackendTLSPolicy": k.tlsPolicies} {
		if !ok {
			missing = append(missing, name)
		}
	}
	return k, missing
}

// listGatewayAPI adds the Gateway API objects (and Namespaces, for
// listener namespace selectors) to the snapshot.
func listGatewayAPI(ctx context.Context, c, direct client.Reader, cms *configMaps, namespace string, k gatewayKinds, snap *translate.Snapshot) error {
	if !k.enabled() {
		return nil
	}
	ns := client.InNamespace(namespace)
	var (
		classes gatewayv1.GatewayClassList
		gws     gatewayv1.GatewayList
		routes  gatewayv1.HTTPRouteList
		grpc    gatewayv1.GRPCRouteList
		tlsr    gatewayv1.TLSRouteList
		tcpr    gatewayv1.TCPRouteList
		grants  gatewayv1.ReferenceGrantList
		pols    gatewayv1.BackendTLSPolicyList
	)
	// Namespaces are cached as metadata only: their labels are all
	// listener selectors read.
	nss := &metav1.PartialObjectMetadataList{}
	nss.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	if err := c.List(ctx, &classes); err != nil {
		return fmt.Errorf("listing GatewayClasses: %w", err)
	}
	if err := c.List(ctx, &gws, ns); err != nil {
		return fmt.Errorf("listing Gateways: %w", err)
	}
	if k.httpRoutes {
		if err := c.List(ctx, &routes, ns); err != nil {
			return fmt.Errorf("listing HTTPRoutes: %w", err)
		}
	}
	if k.grpcRoutes {
		if err := c.List(ctx, &grpc, ns); err != nil {
			return fmt.Errorf("listing GRPCRoutes: %w", err)
		}
	}
	if k.tlsRoutes {
		if err := c.List(ctx, &tlsr, ns); err != nil {
			return fmt.Errorf("listing TLSRoutes: %w", err)
		}
	}
	if k.tcpRoutes {
		if err := c.List(ctx, &tcpr, ns); err != nil {
			return fmt.Errorf("listing TCPRoutes: %w", err)
		}
	}
	if k.grants {
		if err := c.List(ctx, &grants, ns); err != nil {
			return fmt.Errorf("listing ReferenceGrants: %w", err)
		}
	}
	if k.tlsPolicies {
		if err := c.List(ctx, &pols, ns); err != nil {
			return fmt.Errorf("listing BackendTLSPolicies: %w", err)
		}
	}
	if err := c.List(ctx, nss); err != nil {
		return fmt.Errorf("listing Namespaces: %w", err)
	}
	snap.Namespaces = make([]corev1.Namespace, len(nss.Items))
	for i := range nss.Items {
		snap.Namespaces[i] = corev1.Namespace{ObjectMeta: nss.Items[i].ObjectMeta}
	}
	snap.GatewayClasses, snap.Gateways, snap.HTTPRoutes, snap.GRPCRoutes = classes.Items, gws.Items, routes.Items, grpc.Items
	snap.TLSRoutes, snap.TCPRoutes = tlsr.Items, tcpr.Items
	snap.ReferenceGrants = grants.Items
	snap.BackendTLSPolicies = pols.Items
	var err error
	snap.ConfigMaps, err = cms.referenced(ctx, c, direct, snap)
	return err
}

// gatewayListeners runs the Gateways' listeners on every replica for the
// lifetime of the manager, and waits for them to drain when it stops.
type gatewayListeners struct {
	managerContext
	set *dataplane.ListenerSet
}

var errNotStarted = errors.New("gateway listeners not started yet")

func (g *gatewayListeners) sync(want map[string]router.Listener) error {
	ctx := g.context()
	if ctx == nil {
		return errNotStarted
	}
	g.set.Sync(ctx, want)
	return nil
}

// reconcileGateways binds the Gateways' listeners on every replica and, as
// leader, keeps their Services and writes Gateway API status.
func (r *Reconciler) reconcileGateways(ctx context.Context, res *translate.Result, istioSvc *corev1.Service) error {
	istioOn := r.istioOn.Load()
	if !r.gatewayKinds.enabled() && !istioOn {
		return nil
	}
	gwListeners, istioListeners := splitListeners(res.GatewayListeners)
	var services []corev1.Service
	want := map[string]router.Listener{}
	if r.gatewayKinds.enabled() {
		var err error
		if services, err = r.gatewayServices(ctx); err != nil {
			return err
		}
		maps.Copy(want, r.gatewayBindings(gwListeners, services, r.Dataplane))
	}
	if istioOn {
		maps.Copy(want, r.istioBindings(istioListeners, istioSvc, r.Dataplane))
	}
	if err := r.gateways.sync(want); err != nil {
		return err
	}
	if !r.IsLeader() {
		return nil
	}
	used := map[int32]bool{}
	for i := range services {
		for _, p := range services[i].Spec.Ports {
			used[p.TargetPort.IntVal] = true
		}
	}
	if istioSvc != nil {
		for _, p := range istioSvc.Spec.Ports {
			if strings.HasPrefix(p.Name, istioPortPrefix) {
				used[p.TargetPort.IntVal] = true
			}
		}
	}
	if istioOn {
		if err := r.syncIstioPorts(ctx, istioSvc, istioListeners, used); err != nil {
			return err
		}
		if err := r.writeIstioStatus(ctx, res); err != nil {
			return err
		}
	}
	if !r.gatewayKinds.enabled() {
		return nil
	}
	if err := r.syncGatewayServices(ctx, gwListeners, services, used); err != nil {
		return err
	}
	if err := r.writeGatewayStatus(ctx, res, gatewayAddresses(services)); err != nil {
		return err
	}
	return r.writePolicyStatus(ctx, res)
}
