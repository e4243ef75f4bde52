//go:build edge

package edge

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portico-dev/portico/edge/edgetest"
)

// TestHostileManifests drops hostile files into a running standalone
// Portico's manifests directory: each is reported by name, Portico stays
// up with bounded memory and keeps serving its last good table, and once
// the file is gone the reload loop picks up the next change (it was never
// blocked).
func TestHostileManifests(t *testing.T) {
	be := edgetest.NewBackend(t, edgetest.WithName("keep"))
	p := edgetest.Start(t, map[string]string{"base.yaml": edgetest.Join(edgetest.IngressClass(), edgetest.Service("keep", be.Addr()),
		edgetest.Ingress("keep", "keep.test", edgetest.Path{Path: "/", Service: "keep"}))})
	serve := func(host string) int {
		r, err := edgetest.RoundTrip(p.HTTPAddr, edgetest.Req("GET", "/", host, "Connection: close"), 5*time.Second)
		if err != nil {
			return 0
		}
		return r.Status
	}
	if c := serve("keep.test"); c != 200 {
		t.Fatalf("baseline: %d", c)
	}
	bomb := "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	for i := 'b'; i <= 'i'; i++ {
		prev := string(i - 1)
		bomb += string(i) + ": &" + string(i) + " [*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + "]\n"
	}
	for i, tc := range []struct {
		name, file string
		make       func(path string) error
	}{
		{"symlink to /dev/zero", "zz.yaml", func(p string) error { return os.Symlink("/dev/zero", p) }},
		{"FIFO", "fifo.yaml", func(p string) error { return syscall.Mkfifo(p, 0o644) }},
		{"17 MiB file", "big.yaml", func(p string) error {
			return os.WriteFile(p, []byte("# "+strings.Repeat("x", 17<<20)+"\n"), 0o644)
		}},
		{"duplicate key", "dupkey.yaml", func(p string) error {
			return os.WriteFile(p, []byte("apiVersion: v1\nkind: Service\nmetadata: {name: d, namespace: edge}\nspec: {ports: [{port: 80}]}\nspec: {}\n"), 0o644)
		}},
		{"duplicate object", "dupobj.yaml", func(p string) error {
			return os.WriteFile(p, []byte(edgetest.Ingress("keep", "other.test", edgetest.Path{Path: "/", Service: "keep"})), 0o644)
		}},
		{"alias bomb", "bomb.yaml", func(p string) error { return os.WriteFile(p, []byte(bomb), 0o644) }},
		{"deep nesting", "deep.yaml", func(p string) error {
			return os.WriteFile(p, []byte(strings.Repeat("[", 100000)+strings.Repeat("]", 100000)), 0o644)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(p.Dir, tc.file)
			if err := tc.make(path); err != nil {
				t.Fatal(err)
			}
			p.WaitOutput(t, tc.file, 10*time.Second)
			p.CheckAlive(t)
			if c := serve("keep.test"); c != 200 {
				t.Errorf("the last good table stopped serving: %d", c)
			}
			if rss := p.RSS(); rss > 300<<20 {
				t.Errorf("RSS %d MiB after %s", rss>>20, tc.name)
			}
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			// The next change is applied: the loop is not stuck.
			host := "next" + string(rune('a'+i)) + ".test"
			p.WriteManifests(t, map[string]string{"next.yaml": edgetest.Ingress("next", host, edgetest.Path{Path: "/", Service: "keep"})})
			deadline := time.Now().Add(10 * time.Second)
			for serve(host) != 200 {
				if time.Now().After(deadline) {
					t.Fatalf("a change after removing %s was not applied within 10s; output:\n%s", tc.file, p.Output()[max(0, len(p.Output())-2000):])
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}
