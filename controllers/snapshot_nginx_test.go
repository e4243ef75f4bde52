package controllers

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// TestReferencedSecretsNginxAuth: the Secret an ingress-nginx auth-secret
// annotation names is read outside the TLS-only cache, like a client CA.
func TestReferencedSecretsNginxAuth(t *testing.T) {
	users := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "users"}, Data: map[string][]byte{"auth": []byte("foo:x")}}
	c := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(users).Build()
	ing := networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "app",
		Annotations: map[string]string{"nginx.ingress.kubernetes.io/auth-secret": "users"}}}
	if !namesSecrets(&ing) {
		t.Fatal("namesSecrets: false")
	}
	got, err := referencedSecrets(context.Background(), c, []networkingv1.Ingress{ing, ing}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "users" || string(got[0].Data["auth"]) != "foo:x" {
		t.Fatalf("read %+v", got)
	}
	ing.Annotations["nginx.ingress.kubernetes.io/auth-secret"] = "gone"
	if got, err := referencedSecrets(context.Background(), c, []networkingv1.Ingress{ing}, nil); err != nil || len(got) != 0 {
		t.Fatalf("missing Secret: %v %v", got, err)
	}
}
