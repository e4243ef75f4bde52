package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/portico-dev/portico/controllers/translate"
)

// listSnapshot reads every object translation needs from the cache. Any
// error is returned: an API error is never taken to mean "no objects".
func listSnapshot(ctx context.Context, c client.Reader, namespace string) (*translate.Snapshot, error) {
	var (
		classes networkingv1.IngressClassList
		ings    networkingv1.IngressList
		svcs    corev1.ServiceList
		eps     discoveryv1.EndpointSliceList
	)
	ns := client.InNamespace(namespace)
	if err := c.List(ctx, &classes); err != nil {
		return nil, fmt.Errorf("listing IngressClasses: %w", err)
	}
	if err := c.List(ctx, &ings, ns); err != nil {
		return nil, fmt.Errorf("listing Ingresses: %w", err)
	}
	if err := c.List(ctx, &svcs, ns); err != nil {
		return nil, fmt.Errorf("listing Services: %w", err)
	}
	if err := c.List(ctx, &eps, ns); err != nil {
		return nil, fmt.Errorf("listing EndpointSlices: %w", err)
	}
	return &translate.Snapshot{
		IngressClasses: classes.Items,
		Ingresses:      ings.Items,
		Services:       svcs.Items,
		EndpointSlices: eps.Items,
	}, nil
}
