package standalone

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/controllers/translate"
)

func ingressDoc(name, host string) string {
	return fmt.Sprintf(`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: %s}
spec:
  rules:
  - host: %s
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: %s, port: {number: 80}}}}]}
`, name, host, name)
}

func serviceDoc(name string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata: {name: %s}\nspec: {ports: [{port: 80}]}\n", name)
}

// engineView renders the Engine-kind objects of a snapshot by name and
// content.
func engineView(s *translate.Snapshot) string {
	var out []string
	for _, o := range s.Ingresses {
		out = append(out, "Ingress "+o.Namespace+"/"+o.Name+" "+o.Spec.Rules[0].Host)
	}
	for _, o := range s.Services {
		out = append(out, "Service "+o.Namespace+"/"+o.Name)
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// TestTreeEqualsLoad edits a directory at random and checks after each
// edit that the incremental reload gives the Engine what a full Load
// reads, fails exactly when Load fails, and re-reads only changed files.
func TestTreeEqualsLoad(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	tr := newTree(dir, defaultLimits)
	e := translate.NewEngine()
	write := func(f, data string) {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		// A later write of the same size in the same clock tick must
		// still be noticed: move the modification time.
		mt := time.Now().Add(time.Duration(rng.IntN(1e6)) * time.Microsecond)
		_ = os.Chtimes(filepath.Join(dir, f), mt, mt)
	}
	touched := map[string]bool{} // files edited since the last good load
	for step := range 200 {
		f := fmt.Sprintf("f%d.yaml", rng.IntN(5))
		touched[f] = true
		switch r := rng.IntN(10); {
		case r < 6:
			var docs []string
			for range 1 + rng.IntN(4) {
				n := rng.IntN(8)
				docs = append(docs, ingressDoc(fmt.Sprintf("ing%d", n), fmt.Sprintf("h%d.example.com", rng.IntN(3))), serviceDoc(fmt.Sprintf("ing%d", n)))
			}
			write(f, strings.Join(docs, "---\n"))
		case r < 7:
			write(f, "kind: Ingress\napiVersion: networking.k8s.io/v1\nmetadata: {name: broken\n")
		case r < 8:
			// The same document twice in one file, after it was there once.
			doc := ingressDoc(fmt.Sprintf("twice-%d", step), "t.example.com")
			write(f, doc)
			ch, err := tr.load()
			if err != nil {
				continue
			}
			applyChanges(e, ch)
			clear(touched)
			touched[f] = true
			write(f, doc+"---\n"+doc)
		case r < 9:
			_ = os.Remove(filepath.Join(dir, f))
		default:
			delete(touched, f)
		}
		ch, err := tr.load()
		want, _, werr := Load(dir)
		if (err == nil) != (werr == nil) {
			t.Fatalf("step %d: incremental load error %v, full load error %v", step, err, werr)
		}
		if err != nil {
			continue
		}
		if ch.Files > len(touched) {
			t.Fatalf("step %d: %d files re-read after editing %d", step, ch.Files, len(touched))
		}
		clear(touched)
		applyChanges(e, ch)
		if got, exp := engineView(e.Snapshot()), engineView(want); got != exp {
			t.Fatalf("step %d: engine holds\n%s\nfull load reads\n%s", step, got, exp)
		}
	}
}

// TestWatchChangesNotifies checks that a change is applied without
// waiting for the poll (the interval is an hour) and that only the changed
// file is read again.
func TestWatchChangesNotifies(t *testing.T) {
	dir := t.TempDir()
	for i := range 3 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.yaml", i)), []byte(ingressDoc(fmt.Sprintf("ing%d", i), "a.example.com")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes := make(chan *Changes, 10)
	go WatchChanges(ctx, dir, time.Hour, func(c *Changes) { changes <- c }, func(err error) { t.Error(err) })
	first := <-changes
	if first.Files != 3 || len(first.Set) != 3 {
		t.Fatalf("first load read %d files, %d objects", first.Files, len(first.Set))
	}
	if err := os.WriteFile(filepath.Join(dir, "f1.yaml"), []byte(ingressDoc("ing1", "b.example.com")), 0o644); err != nil {
		t.Fatal(err)
	}
	// WriteFile truncates, then writes: a reload may see the empty file
	// first (and delete the Ingress), then the new one.
	deadline := time.After(20 * time.Second)
	for {
		select {
		case c := <-changes:
			if c.Files != 1 {
				t.Fatalf("reload read %d files", c.Files)
			}
			if len(c.Set) == 1 {
				return
			}
		case <-deadline:
			t.Fatal("the change was not noticed without polling")
		}
	}
}

func applyChanges(e *translate.Engine, ch *Changes) {
	for _, o := range ch.Set {
		e.Set(o)
	}
	for _, ref := range ch.Deleted {
		e.Delete(ref.Kind, ref.Namespace, ref.Name)
	}
}
