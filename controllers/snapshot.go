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

// referencedSecrets reads the Secrets that Ingresses name (client CAs,
// ingress-nginx auth-secret) and the TLS-only cache does not hold. A missing one is left for translation to
// report.
func referencedSecrets(ctx context.Context, direct client.Reader, ings []networkingv1.Ingress, cached []corev1.Secret) ([]corev1.Secret, error) {
	have := map[client.ObjectKey]bool{}
	for i := range cached {
		have[client.ObjectKeyFromObject(&cached[i])] = true
	}
	var out []corev1.Secret
	var keys []client.ObjectKey
	for i := range ings {
		keys = append(keys, ingressSecretKeys(&ings[i])...)
	}
	for _, key := range keys {
		if have[key] {
			continue
		}
		have[key] = true
		var s corev1.Secret
		if err := direct.Get(ctx, key, &s); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("getting Secret %s named by an Ingress: %w", key, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// namesSecrets reports whether an Ingress's annotations name Secrets the
// TLS-only cache may not hold: a client CA, an ingress-nginx auth-secret.
func namesSecrets(ing *networkingv1.Ingress) bool {
	if _, named := ing.Annotations[translate.AnnotationClientCASecret]; named {
		return true
	}
	return len(translate.NginxSecretRefs(ing)) > 0
}

// ingressSecretKeys are the Secrets an Ingress's annotations name: an
// ingress-nginx auth-secret and the like, a client CA.
func ingressSecretKeys(ing *networkingv1.Ingress) []client.ObjectKey {
	var keys []client.ObjectKey
	for _, ref := range translate.NginxSecretRefs(ing) {
		keys = append(keys, client.ObjectKey{Namespace: ref[0], Name: ref[1]})
	}
	v, ok := ing.Annotations[translate.AnnotationClientCASecret]
	if !ok {
		return keys
	}
	key := client.ObjectKey{Namespace: ing.Namespace, Name: v}
	if ns, name, found := strings.Cut(v, "/"); found {
		key = client.ObjectKey{Namespace: ns, Name: name}
	}
	return append(keys, key)
}
