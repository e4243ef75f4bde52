package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// options is one image build.
type options struct {
	Root, Out, Package        string
	Platforms                 []string
	Version, Revision, Source string
	Repository, CABundle      string
	Epoch                     time.Time
}

// result is what a build wrote.
type result struct {
	Digest v1.Hash // of the image index
	Images map[string]v1.Hash
	Layout string
	Tar    string
}

// platformImage is one platform's image and its SBOM.
type platformImage struct {
	platform v1.Platform
	img      v1.Image
	sbom     []byte
}

// build compiles the binaries, assembles the images and writes the output.
func build(o options) (*result, error) {
	if o.Revision == "" {
		o.Revision = "unknown"
	}
	ca, err := os.ReadFile(o.CABundle)
	if err != nil {
		return nil, fmt.Errorf("CA bundle (install Debian's ca-certificates): %w", err)
	}
	base, err := baseLayer(ca, o.Epoch)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "portico-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var imgs []platformImage
	for _, p := range o.Platforms {
		plat, err := v1.ParsePlatform(p)
		if err != nil || plat.OS != "linux" {
			return nil, fmt.Errorf("platform %q: want linux/ARCH", p)
		}
		bin := filepath.Join(tmp, "portico-"+plat.Architecture)
		if err := goBuild(o, plat.Architecture, bin); err != nil {
			return nil, err
		}
		pi, err := platformImg(o, *plat, base, bin)
		if err != nil {
			return nil, err
		}
		imgs = append(imgs, pi)
	}
	return write(o, imgs)
}

// goBuild cross-compiles a static, reproducible binary.
func goBuild(o options, arch, out string) error {
	ld := fmt.Sprintf("-s -w -buildid= -X main.version=%s -X main.gitCommit=%s -X main.buildDate=%s",
		o.Version, o.Revision, o.Epoch.Format(time.RFC3339))
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ld, "-o", out, o.Package)
	cmd.Dir = o.Root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOFLAGS=-buildvcs=false")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for linux/%s: %w: %s", o.Package, arch, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// platformImg assembles one platform's image: base layer, binary layer,
// config (user, entrypoint, labels, timestamps) and its SBOM.
func platformImg(o options, plat v1.Platform, base v1.Layer, bin string) (platformImage, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return platformImage{}, err
	}
	binLayer, err := binaryLayer(data, o.Epoch)
	if err != nil {
		return platformImage{}, err
	}
	created := v1.Time{Time: o.Epoch}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: created, CreatedBy: "portico-image: CA certificates, nonroot user 65532, /tmp", Comment: "base"}},
		mutate.Addendum{Layer: binLayer, History: v1.History{Created: created, CreatedBy: "portico-image: go build -trimpath " + o.Package}},
	)
	if err != nil {
		return platformImage{}, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return platformImage{}, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = plat.OS, plat.Architecture, plat.Variant
	cf.Created = created
	cf.Config = v1.Config{
		User:       "65532:65532",
		Entrypoint: []string{"/usr/bin/portico"},
		Cmd:        []string{"controller"},
		WorkingDir: "/",
		Env:        []string{"PATH=/usr/bin:/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		Labels:     labels(o),
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return platformImage{}, err
	}
	sbom, err := spdxDocument(o, plat, bin, data)
	if err != nil {
		return platformImage{}, err
	}
	return platformImage{platform: plat, img: img, sbom: sbom}, nil
}

// labels are the OCI annotations of the image config and the index.
func labels(o options) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "portico",
		"org.opencontainers.image.description": "Portico: a Kubernetes ingress controller with its own L7 proxy",
		"org.opencontainers.image.source":      o.Source,
		"org.opencontainers.image.revision":    o.Revision,
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.created":     o.Epoch.Format(time.RFC3339),
	}
}
