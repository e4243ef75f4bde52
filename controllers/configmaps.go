package controllers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/portico-dev/portico/controllers/translate"
)

// configMaps reads the ConfigMaps that BackendTLSPolicies name as CA
// bundles and GatewayClasses and Gateways name as parameters. Only ConfigMap
// metadata is cached by the manager (to notice changes, without holding
// every ConfigMap of the cluster); a content is read from the API server
// only when its resourceVersion in that cache changed. Reconciles run one
// at a time, so no lock is needed.
type configMaps struct {
	byKey map[client.ObjectKey]*corev1.ConfigMap
}

// referenced returns the ConfigMaps the snapshot names; missing ones are
// left out for translation to report.
func (c *configMaps) referenced(ctx context.Context, cached, direct client.Reader, snap *translate.Snapshot) ([]corev1.ConfigMap, error) {
	var keys []client.ObjectKey
	for i := range snap.BackendTLSPolicies {
		p := &snap.BackendTLSPolicies[i]
		for _, ref := range p.Spec.Validation.CACertificateRefs {
			if ref.Group == "" && ref.Kind == "ConfigMap" {
				keys = append(keys, client.ObjectKey{Namespace: p.Namespace, Name: string(ref.Name)})
			}
		}
	}
	for _, nn := range append(translate.ParametersRefs(snap.GatewayClasses, snap.Gateways), translate.FrontendCARefs(snap.Gateways)...) {
		ns, name, _ := strings.Cut(nn, "/")
		keys = append(keys, client.ObjectKey{Namespace: ns, Name: name})
	}
	next := make(map[client.ObjectKey]*corev1.ConfigMap, len(keys))
	var out []corev1.ConfigMap
	for _, key := range keys {
		if _, done := next[key]; done {
			continue
		}
		cm, err := c.get(ctx, cached, direct, key)
		if err != nil {
			return nil, err
		}
		next[key] = cm
		if cm != nil {
			out = append(out, *cm)
		}
	}
	c.byKey = next
	return out, nil
}

func (c *configMaps) get(ctx context.Context, cached, direct client.Reader, key client.ObjectKey) (*corev1.ConfigMap, error) {
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
	if err := cached.Get(ctx, key, meta); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("getting ConfigMap metadata %s: %w", key, err)
	}
	if cm := c.byKey[key]; cm != nil && cm.ResourceVersion == meta.ResourceVersion {
		return cm, nil
	}
	cm := &corev1.ConfigMap{}
	if err := direct.Get(ctx, key, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("getting ConfigMap %s: %w", key, err)
	}
	return cm, nil
}
