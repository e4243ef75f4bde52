package controllers_test

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/portico-dev/portico/controllers"
)

// TestSecretStorage exercises the certmagic.Storage contract on the real
// API server: store/load, directories in List/Exists/Stat, Delete of a
// directory, and Lease locks excluding a second holder until unlocked.
func TestSecretStorage(t *testing.T) {
	ctx := context.Background()
	mustCreate(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "acme-unit"}})
	s := controllers.NewSecretStorage(k8s, k8s, "acme-unit")
	if _, err := s.Load(ctx, "certificates/ca/a.example/a.example.crt"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("load of a missing key: %v", err)
	}
	for _, k := range []string{"certificates/ca/a.example/a.example.crt", "certificates/ca/a.example/a.example.key", "certificates/ca/b.example/b.example.crt", "acme/account.json"} {
		if err := s.Store(ctx, k, []byte("v:"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Store(ctx, "acme/account.json", []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Load(ctx, "acme/account.json"); err != nil || string(v) != "v2" {
		t.Fatalf("overwrite: %q %v", v, err)
	}
	top, err := s.List(ctx, "certificates/ca", false)
	slices.Sort(top)
	if err != nil || !slices.Equal(top, []string{"certificates/ca/a.example", "certificates/ca/b.example"}) {
		t.Fatalf("List non-recursive = %v %v", top, err)
	}
	all, _ := s.List(ctx, "certificates", true)
	if len(all) != 3 {
		t.Fatalf("List recursive = %v", all)
	}
	if !s.Exists(ctx, "certificates/ca/a.example") {
		t.Fatal("directory does not exist")
	}
	if info, err := s.Stat(ctx, "certificates/ca/a.example"); err != nil || info.IsTerminal {
		t.Fatalf("Stat directory: %+v %v", info, err)
	}
	if info, err := s.Stat(ctx, "acme/account.json"); err != nil || !info.IsTerminal || info.Size != 2 || info.Modified.IsZero() {
		t.Fatalf("Stat key: %+v %v", info, err)
	}
	if err := s.Delete(ctx, "certificates/ca/a.example"); err != nil {
		t.Fatal(err)
	}
	if s.Exists(ctx, "certificates/ca/a.example/a.example.key") || !s.Exists(ctx, "certificates/ca/b.example/b.example.crt") {
		t.Fatal("Delete of a directory removed the wrong keys")
	}

	other := controllers.NewSecretStorage(k8s, k8s, "acme-unit")
	if err := s.Lock(ctx, "issue_cert_a.example"); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	if err := other.Lock(short, "issue_cert_a.example"); err == nil {
		t.Fatal("second holder got a held lock")
	}
	if err := s.Unlock(ctx, "issue_cert_a.example"); err != nil {
		t.Fatal(err)
	}
	if err := other.Lock(ctx, "issue_cert_a.example"); err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	if err := other.Unlock(ctx, "issue_cert_a.example"); err != nil {
		t.Fatal(err)
	}
}
