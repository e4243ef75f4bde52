package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Program is the local stand-in for a container image: the binary run in
// the pod's network namespace, with the pod's command and args appended
// after Args (an image's entrypoint).
//
// With Root set the program is an unpacked container image: Path and Args
// are its entrypoint inside Root, and the pod runner chroots into Root
// (read-only, the volumes bound inside it) and runs it as User ("UID:GID",
// the image's user; a container's runAsUser/runAsGroup win).
type Program struct {
	Path string
	Args []string
	Root string
	User string
}

// Images maps image repositories (no tag or digest) to programs. An image
// not listed leaves its pod Pending with an Event.
type Images map[string]Program

// PorticoImage is the repository of Portico's own image.
const PorticoImage = "ghcr.io/portico-dev/portico"

// lookup finds the program of an image reference.
func (im Images) lookup(image string) (Program, bool) {
	repo := image
	if i := strings.IndexByte(repo, '@'); i >= 0 {
		repo = repo[:i]
	}
	if i := strings.LastIndexByte(repo, ':'); i > strings.LastIndexByte(repo, '/') {
		repo = repo[:i]
	}
	p, ok := im[repo]
	return p, ok
}

// BuildImages builds the local programs of the known images into dir
// (skipping those already built) and returns the mapping: the Gateway API
// echo-basic images, the conformance suite's coredns (a small local DNS
// answering every query NXDOMAIN), and Portico's image (the portico build
// of the repository at root, rebuilt every time).
func BuildImages(root, dir string) (Images, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	build := func(name, pkg string, always bool) (string, error) {
		out := filepath.Join(dir, name)
		if _, err := os.Stat(out); err == nil && !always {
			return out, nil
		}
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("building %s: %w: %s", pkg, err, b)
		}
		return out, nil
	}
	echo, err := build("echo-basic", "sigs.k8s.io/gateway-api/conformance/echo-basic", false)
	if err != nil {
		return nil, err
	}
	dev, err := build("portico-devcluster", "./cmd/portico-devcluster", true)
	if err != nil {
		return nil, err
	}
	portico, err := build("portico", "./cmd/portico", true)
	if err != nil {
		return nil, err
	}
	return Images{
		"registry.k8s.io/gateway-api/echo-basic":       {Path: echo},
		"gcr.io/k8s-staging-gateway-api/echo-basic":    {Path: echo},
		"registry.k8s.io/gateway-api/echo-advanced":    {Path: echo},
		"gcr.io/k8s-staging-gateway-api/echo-advanced": {Path: echo},
		"registry.k8s.io/coredns/coredns":              {Path: dev, Args: []string{"dns"}},
		PorticoImage:                                   {Path: portico},
	}, nil
}
