package controllers

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/dataplane"
	"github.com/portico-dev/portico/router"
)

// Labels and annotations of the Services Portico manages for Gateways.
const (
	gatewayServiceLabel   = "portico.dev/gateway-service"
	gatewayNamespaceAnnot = "portico.dev/gateway-namespace"
	gatewayNameAnnot      = "portico.dev/gateway-name"
	defaultGatewayPortMin = 20000
	defaultGatewayPortMax = 29999
)

// GatewayOptions configure the Gateway API in controller mode.
type GatewayOptions struct {
	// Namespace holds the per-Gateway Services: Portico's own namespace,
	// since a Service can only select Pods of its namespace.
	Namespace string
	// ServiceType of the per-Gateway Services (default LoadBalancer).
	ServiceType corev1.ServiceType
	// PodSelector selects Portico's Pods (default app.kubernetes.io/name=portico).
	PodSelector map[string]string
	// PortMin and PortMax bound the internal proxy ports Gateway listeners
	// are mapped to (default 20000-29999).
	PortMin, PortMax int32
	// BindAddress is the host the internal ports listen on ("" = all).
	BindAddress string
}

func (o *GatewayOptions) defaults() {
	if o.ServiceType == "" {
		o.ServiceType = corev1.ServiceTypeLoadBalancer
	}
	if o.PodSelector == nil {
		o.PodSelector = map[string]string{"app.kubernetes.io/name": "portico"}
	}
	if o.PortMin == 0 {
		o.PortMin, o.PortMax = defaultGatewayPortMin, defaultGatewayPortMax
	}
}

// gatewayServiceName names a Gateway's Service in Portico's namespace.
func gatewayServiceName(ref translate.ObjectRef) string {
	name := "gw-" + ref.Namespace + "-" + ref.Name
	if len(name) <= 63 {
		return name
	}
	sum := sha256.Sum256([]byte(ref.Namespace + "/" + ref.Name))
	return "gw-" + hex.EncodeToString(sum[:])[:20]
}

func gatewayOfService(svc *corev1.Service) translate.ObjectRef {
	return translate.ObjectRef{Kind: "Gateway", Namespace: svc.Annotations[gatewayNamespaceAnnot], Name: svc.Annotations[gatewayNameAnnot]}
}

// listenerKey is the router listener key of a Gateway port; it matches the
// keys translation gives the Gateway's routes.
func listenerKey(gw translate.ObjectRef, port int32) string {
	return router.ListenerKey("Gateway", gw.Namespace, gw.Name, port)
}

// gatewayServices lists the Services Portico manages for Gateways.
func (r *Reconciler) gatewayServices(ctx context.Context) ([]corev1.Service, error) {
	var list corev1.ServiceList
	if err := r.Client.List(ctx, &list, client.InNamespace(r.Gateway.Namespace), client.MatchingLabels{gatewayServiceLabel: "true"}); err != nil {
		return nil, fmt.Errorf("listing Gateway Services: %w", err)
	}
	return list.Items, nil
}

// syncGatewayServices (leader only) makes one Service per Gateway whose
// ports are the listener ports, mapped to internal proxy ports that stay
// stable while the listener exists, and deletes the Services of Gateways
// that are gone.
func (r *Reconciler) syncGatewayServices(ctx context.Context, wanted []translate.GatewayListener, existing []corev1.Service, used map[int32]bool) error {
	ports := map[translate.ObjectRef][]int32{}
	meta := map[translate.ObjectRef]translate.GatewayListener{}
	for _, l := range wanted {
		ports[l.Gateway] = append(ports[l.Gateway], l.Port)
		meta[l.Gateway] = l
	}
	current := map[translate.ObjectRef]*corev1.Service{}
	for i := range existing {
		svc := &existing[i]
		gw := gatewayOfService(svc)
		if _, ok := ports[gw]; !ok {
			if err := r.Client.Delete(ctx, svc); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("deleting Service of removed Gateway %s: %w", gw, err)
			}
			continue
		}
		current[gw] = svc
		for _, p := range svc.Spec.Ports {
			used[p.TargetPort.IntVal] = true
		}
	}
	refs := make([]translate.ObjectRef, 0, len(ports))
	for ref := range ports {
		refs = append(refs, ref)
	}
	slices.SortFunc(refs, func(a, b translate.ObjectRef) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	for _, gw := range refs {
		if err := r.ensureGatewayService(ctx, gw, ports[gw], meta[gw], current[gw], used); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reconciler) ensureGatewayService(ctx context.Context, gw translate.ObjectRef, listenerPorts []int32,
	infra translate.GatewayListener, cur *corev1.Service, used map[int32]bool) error {
	slices.Sort(listenerPorts)
	keep := map[int32]int32{} // listener port -> target port
	if cur != nil {
		for _, p := range cur.Spec.Ports {
			keep[p.Port] = p.TargetPort.IntVal
		}
	}
	var spec []corev1.ServicePort
	for _, port := range listenerPorts {
		target, ok := keep[port]
		if !ok {
			target = r.allocatePort(used)
			if target == 0 {
				return fmt.Errorf("no free internal port in %d-%d for Gateway %s", r.Gateway.PortMin, r.Gateway.PortMax, gw)
			}
		}
		spec = append(spec, corev1.ServicePort{Name: "listener-" + strconv.Itoa(int(port)), Protocol: corev1.ProtocolTCP,
			Port: port, TargetPort: intstr.FromInt32(target)})
	}
	labels := map[string]string{}
	for k, v := range infra.Labels {
		labels[k] = v
	}
	labels[gatewayServiceLabel] = "true"
	labels[gatewayv1.GatewayNameLabelKey] = gw.Name
	annotations := map[string]string{}
	for k, v := range infra.Annotations {
		annotations[k] = v
	}
	annotations[gatewayNamespaceAnnot], annotations[gatewayNameAnnot] = gw.Namespace, gw.Name
	svcType := r.Gateway.ServiceType
	if infra.ServiceType != "" {
		svcType = corev1.ServiceType(infra.ServiceType)
	}
	if cur == nil {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: r.Gateway.Namespace, Name: gatewayServiceName(gw),
				Labels: labels, Annotations: annotations},
			Spec: corev1.ServiceSpec{Type: svcType, Selector: r.Gateway.PodSelector, Ports: spec},
		}
		if err := r.Client.Create(ctx, svc); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating Service for Gateway %s: %w", gw, err)
		}
		return nil
	}
	if cur.Spec.Type == svcType && equality.Semantic.DeepEqual(cur.Spec.Selector, r.Gateway.PodSelector) &&
		samePorts(cur.Spec.Ports, spec) && hasAll(cur.Labels, labels) && hasAll(cur.Annotations, annotations) {
		return nil
	}
	upd := cur.DeepCopy()
	upd.Labels, upd.Annotations = mergeMaps(upd.Labels, labels), mergeMaps(upd.Annotations, annotations)
	upd.Spec.Type, upd.Spec.Selector = svcType, r.Gateway.PodSelector
	for i := range spec {
		for _, old := range cur.Spec.Ports {
			if old.Port == spec[i].Port {
				spec[i].NodePort = old.NodePort // keep allocated node ports
			}
		}
	}
	upd.Spec.Ports = spec
	if err := r.Client.Update(ctx, upd); err != nil {
		return fmt.Errorf("updating Service for Gateway %s: %w", gw, err)
	}
	return nil
}

func samePorts(a, b []corev1.ServicePort) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Port != b[i].Port || a[i].TargetPort != b[i].TargetPort || a[i].Protocol != b[i].Protocol {
			return false
		}
	}
	return true
}

// gatewayBindings maps the listener keys of valid Gateway listeners to the
// internal address each replica serves them on, from the Services.
func (r *Reconciler) gatewayBindings(wanted []translate.GatewayListener, services []corev1.Service, dp *dataplane.Dataplane) map[string]router.Listener {
	valid := map[string]bool{}
	for _, l := range wanted {
		valid[l.Key] = true
	}
	out := map[string]router.Listener{}
	for i := range services {
		gw := gatewayOfService(&services[i])
		for _, p := range services[i].Spec.Ports {
			key := listenerKey(gw, p.Port)
			if valid[key] && p.TargetPort.IntVal != 0 {
				out[key] = dp.GatewayListener(key, net.JoinHostPort(r.Gateway.BindAddress, strconv.Itoa(int(p.TargetPort.IntVal))))
			}
		}
	}
	return out
}

// gatewayAddresses returns each Gateway's addresses from its Service: the
// load balancer's, else the cluster IP.
func gatewayAddresses(services []corev1.Service) map[translate.ObjectRef][]string {
	out := map[translate.ObjectRef][]string{}
	for i := range services {
		svc := &services[i]
		gw := gatewayOfService(svc)
		var addrs []string
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if in.IP != "" {
				addrs = append(addrs, in.IP)
			} else if in.Hostname != "" {
				addrs = append(addrs, in.Hostname)
			}
		}
		if len(addrs) == 0 && svc.Spec.Type != corev1.ServiceTypeLoadBalancer && svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone {
			addrs = append(addrs, svc.Spec.ClusterIP)
		}
		out[gw] = addrs
	}
	return out
}

func hasAll(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func mergeMaps(dst, src map[string]string) map[string]string {
	if dst == nil {
		dst = map[string]string{}
	}
	for k, v := range src {
		dst[k] = v
	}
	return dst
}

// allocatePort picks a free internal port and marks it used, 0 when none
// is left. It goes round the range from after the last one given, so a
// port just freed is not given again while its old listener may still be
// draining (and answering kept-alive connections with the old routes).
func (r *Reconciler) allocatePort(used map[int32]bool) int32 {
	n := r.Gateway.PortMax - r.Gateway.PortMin + 1
	for i := int32(0); i < n; i++ {
		p := r.Gateway.PortMin + (r.nextPort-r.Gateway.PortMin+i+n)%n
		if !used[p] {
			used[p] = true
			r.nextPort = p + 1
			return p
		}
	}
	return 0
}
