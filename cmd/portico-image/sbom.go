package main

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// SPDX 2.3 JSON, the fields this SBOM uses.
type spdxDoc struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreation       `json:"creationInfo"`
	Packages          []spdxPackage      `json:"packages"`
	Relationships     []spdxRelationship `json:"relationships"`
}

type spdxCreation struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	Name             string         `json:"name"`
	SPDXID           string         `json:"SPDXID"`
	VersionInfo      string         `json:"versionInfo,omitempty"`
	DownloadLocation string         `json:"downloadLocation"`
	FilesAnalyzed    bool           `json:"filesAnalyzed"`
	Checksums        []spdxChecksum `json:"checksums,omitempty"`
	ExternalRefs     []spdxRef      `json:"externalRefs,omitempty"`
	PrimaryPurpose   string         `json:"primaryPackagePurpose,omitempty"`
	Comment          string         `json:"comment,omitempty"`
}

type spdxChecksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksumValue"`
}

type spdxRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

type spdxRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

// spdxDocument describes the binary at path (contents data) from its Go
// build info: the main module, every linked module (with its go.sum hash)
// and the Go standard library.
func spdxDocument(o options, plat v1.Platform, path string, data []byte) ([]byte, error) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading build info of %s: %w", path, err)
	}
	sum := sha256.Sum256(data)
	arch := plat.OS + "-" + plat.Architecture
	doc := spdxDoc{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT",
		Name:              "portico-" + o.Version + "-" + arch,
		DocumentNamespace: fmt.Sprintf("%s/spdx/%s/%s", o.Source, arch, hex.EncodeToString(sum[:])),
		CreationInfo: spdxCreation{Created: o.Epoch.Format(time.RFC3339),
			Creators: []string{"Tool: portico-image", "Organization: Portico"}},
	}
	doc.Packages = append(doc.Packages, spdxPackage{
		Name: "portico", SPDXID: "SPDXRef-Binary", VersionInfo: o.Version, DownloadLocation: o.Source,
		PrimaryPurpose: "APPLICATION",
		Checksums:      []spdxChecksum{{Algorithm: "SHA256", Value: hex.EncodeToString(sum[:])}},
		Comment:        "/usr/bin/portico in the " + plat.String() + " image, built with " + bi.GoVersion,
	})
	doc.Relationships = append(doc.Relationships, spdxRelationship{"SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Binary"})
	add := func(id, name, version, comment string) {
		doc.Packages = append(doc.Packages, spdxPackage{
			Name: name, SPDXID: id, VersionInfo: version, DownloadLocation: "NOASSERTION", Comment: comment,
			ExternalRefs: []spdxRef{{"PACKAGE-MANAGER", "purl", purl(name, version)}},
		})
		doc.Relationships = append(doc.Relationships, spdxRelationship{"SPDXRef-Binary", "CONTAINS", id})
	}
	add("SPDXRef-Module-main", bi.Main.Path, o.Version, "main module")
	add("SPDXRef-Module-stdlib", "stdlib", strings.TrimPrefix(bi.GoVersion, "go"), "Go standard library")
	for i, m := range bi.Deps {
		if m.Replace != nil {
			m = m.Replace
		}
		add(fmt.Sprintf("SPDXRef-Module-%d", i), m.Path, m.Version, "go.sum "+m.Sum)
	}
	return json.MarshalIndent(doc, "", "  ")
}

// purl is a Go module's package URL (pkg:golang/PATH@VERSION).
func purl(path, version string) string {
	if version == "" {
		return "pkg:golang/" + path
	}
	return "pkg:golang/" + path + "@" + version
}
