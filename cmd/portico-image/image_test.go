package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// testOptions builds both platforms of the repository at a fixed epoch.
func testOptions(out string) options {
	return options{Root: "../..", Out: out, Package: "./cmd/portico", Platforms: []string{"linux/amd64", "linux/arm64"},
		Version: "v0.0.0-test", Revision: "0123456789abcdef", Source: "https://github.com/portico-dev/portico",
		Repository: "ghcr.io/portico-dev/portico", CABundle: "/etc/ssl/certs/ca-certificates.crt",
		Epoch: time.Unix(1767225600, 0).UTC()}
}

// TestReproducible builds the image twice (separate output and temporary
// directories, binaries compiled each time) and wants identical index
// digests and identical tarballs; then it checks what the image holds.
func TestReproducible(t *testing.T) {
	a, err := build(testOptions(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	b, err := build(testOptions(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("index digests: %s, %s", a.Digest, b.Digest)
	if a.Digest != b.Digest {
		t.Fatalf("two builds of one tree differ: %s vs %s (images %v vs %v)", a.Digest, b.Digest, a.Images, b.Images)
	}
	if sa, sb := fileSum(t, a.Tar), fileSum(t, b.Tar); sa != sb {
		t.Errorf("tarballs differ: %s vs %s", sa, sb)
	}
	checkImage(t, a)
}

// checkImage reads the OCI layout back and checks the index, each
// platform's config and files, and the SBOM referrers.
func checkImage(t *testing.T, res *result) {
	lp, err := layout.FromPath(res.Layout)
	if err != nil {
		t.Fatal(err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 3 || im.Manifests[0].Digest != res.Digest {
		t.Fatalf("index.json: want the image index then 2 SBOM referrers, got %+v", im.Manifests)
	}
	idx, err := top.ImageIndex(res.Digest)
	if err != nil {
		t.Fatal(err)
	}
	for plat, d := range res.Images {
		img, err := idx.Image(d)
		if err != nil {
			t.Fatalf("%s: %v", plat, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		c := cf.Config
		if c.User != "65532:65532" || strings.Join(c.Entrypoint, " ") != "/usr/bin/portico" ||
			cf.OS+"/"+cf.Architecture != plat || !cf.Created.Equal(time.Unix(1767225600, 0)) {
			t.Errorf("%s: config %+v created %v", plat, c, cf.Created)
		}
		for k, v := range map[string]string{"org.opencontainers.image.revision": "0123456789abcdef",
			"org.opencontainers.image.version": "v0.0.0-test", "org.opencontainers.image.created": "2026-01-01T00:00:00Z",
			"org.opencontainers.image.source": "https://github.com/portico-dev/portico"} {
			if c.Labels[k] != v {
				t.Errorf("%s: label %s = %q, want %q", plat, k, c.Labels[k], v)
			}
		}
		checkFiles(t, plat, img)
	}
	for _, m := range im.Manifests[1:] {
		checkSBOM(t, lp, m, res)
	}
}

// checkFiles wants the entrypoint, CA bundle and passwd entry in the
// flattened filesystem, all with the epoch as mtime.
func checkFiles(t *testing.T, plat string, img v1.Image) {
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]*tar.Header{}
	var passwd string
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			seen[h.Name] = h
			if !h.ModTime.Equal(time.Unix(1767225600, 0)) {
				t.Errorf("%s: %s mtime %v", plat, h.Name, h.ModTime)
			}
			if h.Name == "etc/passwd" {
				b, _ := io.ReadAll(tr)
				passwd = string(b)
			}
		}
		rc.Close()
	}
	for _, f := range []string{"usr/bin/portico", "etc/ssl/certs/ca-certificates.crt", "etc/group", "tmp/"} {
		if seen[f] == nil {
			t.Errorf("%s: no %s in the image", plat, f)
		}
	}
	if h := seen["usr/bin/portico"]; h != nil && h.Mode&0o111 == 0 {
		t.Errorf("%s: portico not executable: %o", plat, h.Mode)
	}
	if !strings.Contains(passwd, "nonroot:x:65532:65532:") {
		t.Errorf("%s: /etc/passwd lacks nonroot 65532: %q", plat, passwd)
	}
}

// checkSBOM wants an SPDX referrer of one of the platform images listing
// the Go modules of the binary.
func checkSBOM(t *testing.T, lp layout.Path, d v1.Descriptor, res *result) {
	if d.ArtifactType != spdxMediaType {
		t.Fatalf("referrer %s: artifactType %q", d.Digest, d.ArtifactType)
	}
	raw, err := os.ReadFile(filepath.Join(string(lp), "blobs", d.Digest.Algorithm, d.Digest.Hex))
	if err != nil {
		t.Fatal(err)
	}
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, id := range res.Images {
		found = found || (m.Subject != nil && m.Subject.Digest == id)
	}
	if !found || len(m.Layers) != 1 || m.Layers[0].MediaType != spdxMediaType {
		t.Fatalf("referrer %s: subject %+v layers %+v", d.Digest, m.Subject, m.Layers)
	}
	doc, err := os.ReadFile(filepath.Join(string(lp), "blobs", "sha256", m.Layers[0].Digest.Hex))
	if err != nil {
		t.Fatal(err)
	}
	var sd spdxDoc
	if err := json.Unmarshal(doc, &sd); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, p := range sd.Packages {
		names[p.Name] = true
	}
	if sd.SPDXVersion != "SPDX-2.3" || !names["github.com/portico-dev/portico"] || !names["sigs.k8s.io/controller-runtime"] || !names["stdlib"] {
		t.Errorf("SBOM %s: version %s, packages %v", d.Digest, sd.SPDXVersion, names)
	}
}

// fileSum is the SHA-256 of a file.
func fileSum(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
