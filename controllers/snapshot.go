package controllers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/portico-dev/portico/controllers/translate"
)

// referencedSecrets reads the client-CA Secrets that Ingresses name and the
// TLS-only cache does not hold. A missing one is left for translation to
// report.
func referencedSecrets(ctx context.Context, direct client.Reader, ings []networkingv1.Ingress, cached []corev1.Secret) ([]corev1.Secret, error) {
	have := map[client.ObjectKey]bool{}
	for i := range cached {
		have[client.ObjectKeyFromObject(&cached[i])] = true
	}
	var out []corev1.Secret
	for i := range ings {
		v, ok := ings[i].Annotations[translate.AnnotationClientCASecret]
		if !ok {
			continue
		}
		key := client.ObjectKey{Namespace: ings[i].Namespace, Name: v}
		if ns, name, found := strings.Cut(v, "/"); found {
			key = client.ObjectKey{Namespace: ns, Name: name}
		}
		if have[key] {
			continue
		}
		have[key] = true
		var s corev1.Secret
		if err := direct.Get(ctx, key, &s); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("getting client CA Secret %s: %w", key, err)
		}
		out = append(out, s)
	}
	return out, nil
}
