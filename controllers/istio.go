package controllers

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/dataplane"
	"github.com/portico-dev/portico/router"
)

// istioPortPrefix names the ports Portico adds to its own Service for
// Istio Gateway servers on ports the Service does not have.
const istioPortPrefix = "istio-"

// istioCRDsPresent reports whether the API server serves the Istio kinds
// Portico reads.
func istioCRDsPresent(mapper meta.RESTMapper) bool {
	for _, kind := range []string{"Gateway", "VirtualService", "DestinationRule"} {
		if _, err := mapper.RESTMapping(schema.GroupKind{Group: istiov1.SchemeGroupVersion.Group, Kind: kind}, "v1"); err != nil {
			return false
		}
	}
	return true
}

// listIstio adds the Istio networking objects to the snapshot.
func listIstio(ctx context.Context, c client.Reader, namespace string, snap *translate.Snapshot) error {
	ns := client.InNamespace(namespace)
	var (
		gws istiov1.GatewayList
		vss istiov1.VirtualServiceList
		drs istiov1.DestinationRuleList
	)
	if err := c.List(ctx, &gws, ns); err != nil {
		return fmt.Errorf("listing Istio Gateways: %w", err)
	}
	if err := c.List(ctx, &vss, ns); err != nil {
		return fmt.Errorf("listing VirtualServices: %w", err)
	}
	if err := c.List(ctx, &drs, ns); err != nil {
		return fmt.Errorf("listing DestinationRules: %w", err)
	}
	pods := &metav1.PartialObjectMetadataList{}
	pods.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("PodList"))
	if err := c.List(ctx, pods, ns); err != nil {
		return fmt.Errorf("listing Pods (metadata): %w", err)
	}
	snap.IstioGateways, snap.VirtualServices, snap.DestinationRules = gws.Items, vss.Items, drs.Items
	snap.Pods = pods.Items
	return nil
}

// istioServiceKey is Portico's own Service, which gets a port for every
// Istio server port: --publish-service, else portico in Portico's
// namespace.
func (r *Reconciler) istioServiceKey() client.ObjectKey {
	if ns, name, ok := strings.Cut(r.Publish.Service, "/"); ok {
		return client.ObjectKey{Namespace: ns, Name: name}
	}
	return client.ObjectKey{Namespace: r.Gateway.Namespace, Name: "portico"}
}

// istioService reads Portico's own Service (nil when it does not exist).
func (r *Reconciler) istioService(ctx context.Context) (*corev1.Service, error) {
	var svc corev1.Service
	if err := r.Client.Get(ctx, r.istioServiceKey(), &svc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading Portico's Service %s: %w", r.istioServiceKey(), err)
	}
	return &svc, nil
}

// istioMainPorts are the ports of Portico's Service that are its own
// listeners (80 and 443 in the manifests): Istio servers on them share the
// main HTTP and HTTPS listeners.
func istioMainPorts(svc *corev1.Service) []int32 {
	if svc == nil {
		return []int32{80, 443}
	}
	var out []int32
	for _, p := range svc.Spec.Ports {
		if !strings.HasPrefix(p.Name, istioPortPrefix) {
			out = append(out, p.Port)
		}
	}
	return out
}

// istioBindings maps the Istio listeners to the internal ports Portico's
// Service sends their traffic to.
func (r *Reconciler) istioBindings(wanted []translate.GatewayListener, svc *corev1.Service, dp *dataplane.Dataplane) map[string]router.Listener {
	out := map[string]router.Listener{}
	if svc == nil {
		return out
	}
	valid := map[string]bool{}
	for _, l := range wanted {
		valid[l.Key] = true
	}
	for _, p := range svc.Spec.Ports {
		key := "Istio:" + strconv.Itoa(int(p.Port))
		if strings.HasPrefix(p.Name, istioPortPrefix) && valid[key] && p.TargetPort.IntVal != 0 {
			out[key] = dp.GatewayListener(key, net.JoinHostPort(r.Gateway.BindAddress, strconv.Itoa(int(p.TargetPort.IntVal))))
		}
	}
	return out
}

// syncIstioPorts (leader only) gives Portico's Service one port per Istio
// listener, mapped to an internal proxy port that stays stable while the
// server exists, and removes the ports of servers that are gone. Ports
// Portico did not add are never touched.
func (r *Reconciler) syncIstioPorts(ctx context.Context, svc *corev1.Service, wanted []translate.GatewayListener, used map[int32]bool) error {
	if svc == nil {
		if len(wanted) > 0 {
			// Not an error to retry: the rest (status of other objects)
			// must still be written.
			ctrl.LoggerFrom(ctx).Info("Istio Gateway ports cannot be exposed: Portico's Service does not exist",
				"service", r.istioServiceKey(), "ports", len(wanted))
		}
		return nil
	}
	have := map[int32]int32{}
	var ports []corev1.ServicePort
	for _, p := range svc.Spec.Ports {
		if strings.HasPrefix(p.Name, istioPortPrefix) {
			have[p.Port] = p.TargetPort.IntVal
			continue
		}
		ports = append(ports, p)
	}
	var want []int32
	for _, l := range wanted {
		want = append(want, l.Port)
	}
	slices.Sort(want)
	for _, port := range slices.Compact(want) {
		target, ok := have[port]
		if !ok {
			target = r.allocatePort(used)
			if target == 0 {
				return fmt.Errorf("no free internal port in %d-%d for Istio port %d", r.Gateway.PortMin, r.Gateway.PortMax, port)
			}
		}
		sp := corev1.ServicePort{Name: istioPortPrefix + strconv.Itoa(int(port)), Protocol: corev1.ProtocolTCP, Port: port,
			TargetPort: intstr.FromInt32(target)}
		for _, old := range svc.Spec.Ports {
			if old.Name == sp.Name {
				sp.NodePort = old.NodePort
			}
		}
		ports = append(ports, sp)
	}
	if samePorts(svc.Spec.Ports, ports) {
		return nil
	}
	upd := svc.DeepCopy()
	upd.Spec.Ports = ports
	if err := r.Client.Update(ctx, upd); err != nil {
		return fmt.Errorf("updating Istio ports of Service %s: %w", r.istioServiceKey(), err)
	}
	return nil
}

// splitListeners separates Gateway API listeners from Istio ones.
func splitListeners(ls []translate.GatewayListener) (gateway, istio []translate.GatewayListener) {
	for _, l := range ls {
		if l.Gateway.Kind == translate.KindIstioGateway {
			istio = append(istio, l)
		} else {
			gateway = append(gateway, l)
		}
	}
	return gateway, istio
}
