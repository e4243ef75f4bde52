package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersionStamped builds portico with the -X flags `make build` passes
// and checks `portico version` and `--version` print them.
func TestVersionStamped(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "portico")
	ld := "-X main.version=v1.2.3 -X main.gitCommit=0123abc -X main.buildDate=2026-01-02T03:04:05Z"
	cmd := exec.Command("go", "build", "-ldflags", ld, "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, arg := range []string{"version", "--version"} {
		out, err := exec.Command(bin, arg).CombinedOutput()
		if err != nil {
			t.Fatalf("portico %s: %v\n%s", arg, err, out)
		}
		for _, want := range []string{"portico v1.2.3", "git commit: 0123abc", "build date: 2026-01-02T03:04:05Z"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("portico %s: no %q in\n%s", arg, want, out)
			}
		}
	}
	out, err := exec.Command(bin, "version", "--short").Output()
	if err != nil || string(out) != "v1.2.3\n" {
		t.Errorf("portico version --short = %q, %v", out, err)
	}
}

// TestVersionDefault checks an unstamped build reports "dev".
func TestVersionDefault(t *testing.T) {
	var b strings.Builder
	if err := runVersion([]string{"--short"}, &b); err != nil {
		t.Fatal(err)
	}
	if b.String() != "dev\n" {
		t.Errorf("unstamped version = %q, want dev", b.String())
	}
}
