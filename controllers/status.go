package controllers

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Publish says which addresses go into status.loadBalancer of our Ingresses.
type Publish struct {
	// Service, "namespace/name": its LoadBalancer ingress, or for a NodePort
	// Service the addresses of the nodes.
	Service string
	// Addresses are published as given (IPs or host names); they win over
	// Service when both are set.
	Addresses []string
}

// addresses resolves the addresses to publish. No configuration publishes
// nothing.
func (p Publish) addresses(ctx context.Context, c client.Reader) ([]networkingv1.IngressLoadBalancerIngress, error) {
	var out []networkingv1.IngressLoadBalancerIngress
	if len(p.Addresses) > 0 {
		for _, a := range p.Addresses {
			out = append(out, lbIngress(a))
		}
		return out, nil
	}
	if p.Service == "" {
		return nil, nil
	}
	ns, name, ok := strings.Cut(p.Service, "/")
	if !ok {
		return nil, fmt.Errorf("--publish-service %q: want namespace/name", p.Service)
	}
	var svc corev1.Service
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &svc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("getting publish Service %s: %w", p.Service, err)
	}
	switch svc.Spec.Type {
	case corev1.ServiceTypeLoadBalancer:
		for _, i := range svc.Status.LoadBalancer.Ingress {
			out = append(out, networkingv1.IngressLoadBalancerIngress{IP: i.IP, Hostname: i.Hostname})
		}
	case corev1.ServiceTypeNodePort:
		addrs, err := nodeAddresses(ctx, c)
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			out = append(out, lbIngress(a))
		}
	default:
		for _, ip := range svc.Spec.ExternalIPs {
			out = append(out, lbIngress(ip))
		}
	}
	return out, nil
}

// nodeAddresses lists each node's external IP, or its internal IP when it
// has none, sorted and without duplicates.
func nodeAddresses(ctx context.Context, c client.Reader) ([]string, error) {
	var nodes corev1.NodeList
	if err := c.List(ctx, &nodes); err != nil {
		return nil, fmt.Errorf("listing Nodes: %w", err)
	}
	var out []string
	for _, n := range nodes.Items {
		pick := ""
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeExternalIP {
				pick = a.Address
				break
			}
			if a.Type == corev1.NodeInternalIP && pick == "" {
				pick = a.Address
			}
		}
		if pick != "" {
			out = append(out, pick)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func lbIngress(a string) networkingv1.IngressLoadBalancerIngress {
	if net.ParseIP(a) != nil {
		return networkingv1.IngressLoadBalancerIngress{IP: a}
	}
	return networkingv1.IngressLoadBalancerIngress{Hostname: a}
}

// writeStatus sets status.loadBalancer on the Ingresses given that Portico
// owns where it differs, and clears it on those that left our class but
// still show our addresses. The Ingresses are not modified (they may be
// the cache's).
func (r *Reconciler) writeStatus(ctx context.Context, ings []*networkingv1.Ingress, owned func(client.ObjectKey) bool,
	want []networkingv1.IngressLoadBalancerIngress) error {
	for _, ing := range ings {
		current := ing.Status.LoadBalancer.Ingress
		var desired []networkingv1.IngressLoadBalancerIngress
		switch {
		case owned(client.ObjectKeyFromObject(ing)):
			desired = want
		case len(want) > 0 && equality.Semantic.DeepEqual(current, want):
			desired = nil // left our class: take our addresses back
		default:
			continue
		}
		if len(current) == 0 && len(desired) == 0 || equality.Semantic.DeepEqual(current, desired) {
			continue
		}
		base := ing.DeepCopy()
		next := ing.DeepCopy()
		next.Status.LoadBalancer.Ingress = desired
		if err := r.Client.Status().Patch(ctx, next, client.MergeFrom(base)); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("updating status of Ingress %s/%s: %w", ing.Namespace, ing.Name, err)
		}
	}
	return nil
}
