package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Media types of the SBOM referrers (OCI 1.1 artifact manifests).
const (
	spdxMediaType  = "application/spdx+json"
	emptyMediaType = "application/vnd.oci.empty.v1+json"
)

// write assembles the index, writes the OCI layout with the SBOM referrers,
// the layout's tarball, the SBOM files and the digest.
func write(o options, imgs []platformImage) (*result, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	res := &result{Images: map[string]v1.Hash{}}
	for _, pi := range imgs {
		p := pi.platform
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: pi.img, Descriptor: v1.Descriptor{Platform: &p}})
		d, err := pi.img.Digest()
		if err != nil {
			return nil, err
		}
		res.Images[p.String()] = d
	}
	idx = mutate.Annotations(idx, labels(o)).(v1.ImageIndex)
	digest, err := idx.Digest()
	if err != nil {
		return nil, err
	}
	res.Digest = digest
	res.Layout = filepath.Join(o.Out, "image")
	res.Tar = filepath.Join(o.Out, "portico-image.tar")
	if err := os.RemoveAll(res.Layout); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	lp, err := layout.Write(res.Layout, empty.Index)
	if err != nil {
		return nil, err
	}
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": o.Version,
		"io.containerd.image.name":          o.Repository + ":" + o.Version,
	})); err != nil {
		return nil, err
	}
	for _, pi := range imgs {
		if err := appendSBOM(lp, pi, o); err != nil {
			return nil, err
		}
		name := fmt.Sprintf("sbom-%s-%s.spdx.json", pi.platform.OS, pi.platform.Architecture)
		if err := os.WriteFile(filepath.Join(o.Out, name), pi.sbom, 0o644); err != nil {
			return nil, err
		}
	}
	if err := tarDir(res.Layout, res.Tar, o); err != nil {
		return nil, err
	}
	return res, os.WriteFile(filepath.Join(o.Out, "digest"), []byte(digest.String()+"\n"), 0o644)
}

// appendSBOM writes pi's SPDX document as an OCI 1.1 referrer of its
// platform image: an image manifest with artifactType application/spdx+json,
// the empty config, the document as its one layer and subject the image.
// The layout's index.json lists it (as a registry's referrers API would).
func appendSBOM(lp layout.Path, pi platformImage, o options) error {
	subject, err := describe(pi.img)
	if err != nil {
		return err
	}
	emptyJSON := []byte("{}")
	cfg := blob(emptyMediaType, emptyJSON)
	doc := blob(spdxMediaType, pi.sbom)
	doc.Annotations = map[string]string{"org.opencontainers.image.title": fmt.Sprintf("sbom-%s-%s.spdx.json", pi.platform.OS, pi.platform.Architecture)}
	m := v1.Manifest{
		SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: spdxMediaType,
		Config: cfg, Layers: []v1.Descriptor{doc}, Subject: &subject,
		Annotations: map[string]string{"org.opencontainers.image.created": o.Epoch.Format("2006-01-02T15:04:05Z")},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	for _, b := range []struct {
		d    v1.Descriptor
		data []byte
	}{{cfg, emptyJSON}, {doc, pi.sbom}} {
		if err := lp.WriteBlob(b.d.Digest, io.NopCloser(bytes.NewReader(b.data))); err != nil {
			return err
		}
	}
	md := blob(string(types.OCIManifestSchema1), raw)
	if err := lp.WriteBlob(md.Digest, io.NopCloser(bytes.NewReader(raw))); err != nil {
		return err
	}
	md.ArtifactType = spdxMediaType
	md.Annotations = map[string]string{"org.opencontainers.image.ref.name": "sbom-" + pi.platform.Architecture}
	return lp.AppendDescriptor(md)
}

// describe is an image's descriptor (media type, digest, size).
func describe(img v1.Image) (v1.Descriptor, error) {
	mt, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	d, err := img.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	n, err := img.Size()
	return v1.Descriptor{MediaType: mt, Digest: d, Size: n}, err
}

// blob is the descriptor of data.
func blob(mt string, data []byte) v1.Descriptor {
	h, n, _ := v1.SHA256(bytes.NewReader(data))
	return v1.Descriptor{MediaType: types.MediaType(mt), Digest: h, Size: n}
}

// tarDir writes dir as a tar in sorted order with fixed ownership, modes
// and times (the OCI layout as one file, for `skopeo copy oci-archive:` or
// `ctr import`).
func tarDir(dir, out string, o options) error {
	var names []string
	if err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		names = append(names, p)
		return nil
	}); err != nil {
		return err
	}
	sort.Strings(names)
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	for _, p := range names {
		rel, _ := filepath.Rel(dir, p)
		st, err := os.Stat(p)
		if err != nil {
			f.Close()
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, ModTime: o.Epoch, Format: tar.FormatUSTAR, Typeflag: tar.TypeReg, Size: st.Size()}
		if st.IsDir() {
			h.Name, h.Mode, h.Typeflag, h.Size = h.Name+"/", 0o755, tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			f.Close()
			return err
		}
		if !st.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Close()
				return err
			}
			if _, err := tw.Write(data); err != nil {
				f.Close()
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
