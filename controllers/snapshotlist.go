package controllers

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	portico "github.com/portico-dev/portico/api/v1alpha1"
	"github.com/portico-dev/portico/controllers/translate"
)

// SnapshotOptions say what ListSnapshot reads.
type SnapshotOptions struct {
	// Namespace limits listing ("" for all), as --watch-namespace does.
	Namespace string
	// GatewayAPI and Istio turn those APIs on (when their CRDs exist).
	GatewayAPI, Istio bool
}

// ListSnapshot reads, once and without a cache, every object the
// controller translates into a Snapshot: for `portico explain
// --kubeconfig`. Kinds whose CRDs are not installed are left out, as the
// controller leaves them out; any other API error fails the listing.
func ListSnapshot(ctx context.Context, cfg *rest.Config, opts SnapshotOptions) (*translate.Snapshot, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, gatewayv1.Install, istiov1.AddToScheme, portico.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("connecting to the API server: %w", err)
	}
	snap := &translate.Snapshot{}
	ns := client.InNamespace(opts.Namespace)
	var (
		classes networkingv1.IngressClassList
		ings    networkingv1.IngressList
		svcs    corev1.ServiceList
		eps     discoveryv1.EndpointSliceList
		secrets corev1.SecretList
	)
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
	tlsOnly := client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("type", string(corev1.SecretTypeTLS))}
	if err := c.List(ctx, &secrets, ns, tlsOnly); err != nil {
		return nil, fmt.Errorf("listing TLS Secrets: %w", err)
	}
	snap.IngressClasses, snap.Ingresses, snap.Services, snap.EndpointSlices = classes.Items, ings.Items, svcs.Items, eps.Items
	extra, err := referencedSecrets(ctx, c, ings.Items, secrets.Items)
	if err != nil {
		return nil, err
	}
	snap.Secrets = slices.Concat(secrets.Items, extra)
	if opts.GatewayAPI {
		kinds, _ := detectGatewayAPI(c.RESTMapper())
		if err := listGatewayAPI(ctx, c, c, &configMaps{}, opts.Namespace, kinds, snap); err != nil {
			return nil, err
		}
	}
	if porticoCRDsPresent(c.RESTMapper()) {
		if _, err := listPolicies(ctx, c, c, opts.Namespace, snap); err != nil {
			return nil, err
		}
	}
	if opts.Istio && istioCRDsPresent(c.RESTMapper()) {
		if err := listIstio(ctx, c, opts.Namespace, snap); err != nil {
			return nil, err
		}
	}
	return snap, nil
}
