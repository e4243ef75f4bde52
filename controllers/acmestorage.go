package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Labels, annotations and the Secret type of ACME storage objects.
const (
	acmeStorageLabel   = "portico.dev/acme-storage"
	acmeKeyAnnotation  = "portico.dev/acme-key"
	acmeModAnnotation  = "portico.dev/acme-modified"
	acmeSecretType     = corev1.SecretType("portico.dev/acme")
	acmeValueKey       = "value"
	acmeLeaseSeconds   = 60
	acmeLeaseRenew     = 20 * time.Second
	acmeLockRetryDelay = time.Second
)

// SecretStorage is a certmagic.Storage keeping each key in its own Secret of
// one namespace, with distributed locks as Leases, so every replica shares
// certificates, keys, the ACME account and challenge tokens, and only one
// orders a given certificate at a time. Reads go to the API server
// directly: these Secrets are not in the TLS-only cache.
type SecretStorage struct {
	Client    client.Client
	Reader    client.Reader
	Namespace string
	// Identity names this replica in Lease holders.
	Identity string

	mu    sync.Mutex
	held  map[string]context.CancelFunc // lock name -> stop renewing
	clock func() time.Time
}

var _ certmagic.Storage = (*SecretStorage)(nil)

// NewSecretStorage returns storage in namespace ns.
func NewSecretStorage(c client.Client, r client.Reader, ns string) *SecretStorage {
	host, _ := os.Hostname()
	return &SecretStorage{Client: c, Reader: r, Namespace: ns,
		Identity: fmt.Sprintf("%s-%d", host, time.Now().UnixNano()), held: map[string]context.CancelFunc{}, clock: time.Now}
}

func objectName(prefix, key string) string {
	sum := sha256.Sum256([]byte(key))
	return prefix + hex.EncodeToString(sum[:])[:40]
}

// Store puts value at key.
func (s *SecretStorage) Store(ctx context.Context, key string, value []byte) error {
	name := objectName("portico-acme-", key)
	now := s.clock().UTC().Format(time.RFC3339Nano)
	for attempt := 0; attempt < 5; attempt++ {
		var sec corev1.Secret
		err := s.Reader.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: name}, &sec)
		switch {
		case apierrors.IsNotFound(err):
			sec = corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: name,
					Labels:      map[string]string{acmeStorageLabel: "true"},
					Annotations: map[string]string{acmeKeyAnnotation: key, acmeModAnnotation: now}},
				Type: acmeSecretType,
				Data: map[string][]byte{acmeValueKey: value},
			}
			err = s.Client.Create(ctx, &sec)
		case err == nil:
			sec.Data = map[string][]byte{acmeValueKey: value}
			if sec.Annotations == nil {
				sec.Annotations = map[string]string{}
			}
			sec.Annotations[acmeKeyAnnotation], sec.Annotations[acmeModAnnotation] = key, now
			err = s.Client.Update(ctx, &sec)
		}
		if err == nil {
			return nil
		}
		if !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("storing ACME key %s: %w", key, err)
		}
	}
	return fmt.Errorf("storing ACME key %s: too many conflicts", key)
}

// Load returns the value at key, or fs.ErrNotExist.
func (s *SecretStorage) Load(ctx context.Context, key string) ([]byte, error) {
	var sec corev1.Secret
	err := s.Reader.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: objectName("portico-acme-", key)}, &sec)
	if apierrors.IsNotFound(err) {
		return nil, fs.ErrNotExist
	}
	if err != nil {
		return nil, fmt.Errorf("loading ACME key %s: %w", key, err)
	}
	return sec.Data[acmeValueKey], nil
}

// keys lists every stored key with its Secret.
func (s *SecretStorage) keys(ctx context.Context) (map[string]*corev1.Secret, error) {
	var list corev1.SecretList
	if err := s.Reader.List(ctx, &list, client.InNamespace(s.Namespace), client.MatchingLabels{acmeStorageLabel: "true"}); err != nil {
		return nil, fmt.Errorf("listing ACME storage: %w", err)
	}
	out := make(map[string]*corev1.Secret, len(list.Items))
	for i := range list.Items {
		if k, ok := list.Items[i].Annotations[acmeKeyAnnotation]; ok {
			out[k] = &list.Items[i]
		}
	}
	return out, nil
}

// Delete removes key, or every key under it when it is a directory.
func (s *SecretStorage) Delete(ctx context.Context, key string) error {
	all, err := s.keys(ctx)
	if err != nil {
		return err
	}
	for k, sec := range all {
		if k == key || strings.HasPrefix(k, key+"/") {
			if err := s.Client.Delete(ctx, sec); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("deleting ACME key %s: %w", k, err)
			}
		}
	}
	return nil
}

// Exists reports whether key is a stored key or a directory of keys.
func (s *SecretStorage) Exists(ctx context.Context, key string) bool {
	if _, err := s.Load(ctx, key); err == nil {
		return true
	}
	all, err := s.keys(ctx)
	if err != nil {
		return false
	}
	for k := range all {
		if strings.HasPrefix(k, key+"/") {
			return true
		}
	}
	return false
}

// List returns the keys under path: all of them when recursive, else the
// immediate children (files and directories).
func (s *SecretStorage) List(ctx context.Context, path string, recursive bool) ([]string, error) {
	all, err := s.keys(ctx)
	if err != nil {
		return nil, err
	}
	prefix := strings.TrimSuffix(path, "/") + "/"
	if path == "" {
		prefix = ""
	}
	seen := map[string]bool{}
	var out []string
	for k := range all {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		entry := k
		if !recursive {
			rest := strings.TrimPrefix(k, prefix)
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				entry = prefix + rest[:i]
			}
		}
		if !seen[entry] {
			seen[entry] = true
			out = append(out, entry)
		}
	}
	if len(out) == 0 {
		return nil, fs.ErrNotExist
	}
	return out, nil
}

// Stat describes key.
func (s *SecretStorage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	var sec corev1.Secret
	err := s.Reader.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: objectName("portico-acme-", key)}, &sec)
	if err == nil {
		mod, _ := time.Parse(time.RFC3339Nano, sec.Annotations[acmeModAnnotation])
		return certmagic.KeyInfo{Key: key, Modified: mod, Size: int64(len(sec.Data[acmeValueKey])), IsTerminal: true}, nil
	}
	if !apierrors.IsNotFound(err) {
		return certmagic.KeyInfo{}, fmt.Errorf("stat ACME key %s: %w", key, err)
	}
	if s.Exists(ctx, key) {
		return certmagic.KeyInfo{Key: key, IsTerminal: false}, nil
	}
	return certmagic.KeyInfo{}, fs.ErrNotExist
}

// Lock takes the named lock, waiting while another live holder has it. A
// holder that stopped renewing for the lease duration is taken over.
func (s *SecretStorage) Lock(ctx context.Context, name string) error {
	leaseName := objectName("portico-acme-lock-", name)
	for {
		ok, err := s.tryLock(ctx, leaseName)
		if err != nil {
			return err
		}
		if ok {
			rctx, cancel := context.WithCancel(context.Background())
			s.mu.Lock()
			s.held[name] = cancel
			s.mu.Unlock()
			go s.renew(rctx, leaseName)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(acmeLockRetryDelay):
		}
	}
}

func (s *SecretStorage) tryLock(ctx context.Context, leaseName string) (bool, error) {
	now := metav1.NewMicroTime(s.clock())
	var lease coordinationv1.Lease
	err := s.Reader.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: leaseName}, &lease)
	if apierrors.IsNotFound(err) {
		lease = coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: leaseName, Labels: map[string]string{acmeStorageLabel: "true"}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(s.Identity), LeaseDurationSeconds: ptr.To[int32](acmeLeaseSeconds),
				AcquireTime: &now, RenewTime: &now},
		}
		err = s.Client.Create(ctx, &lease)
		if apierrors.IsAlreadyExists(err) {
			return false, nil
		}
		return err == nil, err
	}
	if err != nil {
		return false, fmt.Errorf("reading ACME lock: %w", err)
	}
	if lease.Spec.RenewTime != nil && lease.Spec.LeaseDurationSeconds != nil &&
		s.clock().Before(lease.Spec.RenewTime.Add(time.Duration(*lease.Spec.LeaseDurationSeconds)*time.Second)) &&
		ptr.Deref(lease.Spec.HolderIdentity, "") != "" {
		return false, nil // held and alive
	}
	lease.Spec.HolderIdentity, lease.Spec.AcquireTime, lease.Spec.RenewTime = ptr.To(s.Identity), &now, &now
	lease.Spec.LeaseDurationSeconds = ptr.To[int32](acmeLeaseSeconds)
	if err := s.Client.Update(ctx, &lease); err != nil {
		if apierrors.IsConflict(err) {
			return false, nil
		}
		return false, fmt.Errorf("taking over ACME lock: %w", err)
	}
	return true, nil
}

func (s *SecretStorage) renew(ctx context.Context, leaseName string) {
	t := time.NewTicker(acmeLeaseRenew)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var lease coordinationv1.Lease
		if err := s.Reader.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: leaseName}, &lease); err != nil {
			continue
		}
		if ptr.Deref(lease.Spec.HolderIdentity, "") != s.Identity {
			return
		}
		now := metav1.NewMicroTime(s.clock())
		lease.Spec.RenewTime = &now
		_ = s.Client.Update(ctx, &lease)
	}
}

// Unlock releases the named lock.
func (s *SecretStorage) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	cancel, ok := s.held[name]
	delete(s.held, name)
	s.mu.Unlock()
	if !ok {
		return errors.New("unlock of a lock not held: " + name)
	}
	cancel()
	leaseName := objectName("portico-acme-lock-", name)
	var lease coordinationv1.Lease
	if err := s.Reader.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: leaseName}, &lease); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("releasing ACME lock: %w", err)
	}
	if ptr.Deref(lease.Spec.HolderIdentity, "") != s.Identity {
		return nil
	}
	err := s.Client.Delete(ctx, &lease, client.Preconditions{UID: &lease.UID, ResourceVersion: &lease.ResourceVersion})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("releasing ACME lock: %w", err)
	}
	return nil
}
