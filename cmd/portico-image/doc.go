// Command portico-image builds Portico's multi-arch OCI image without a
// container daemon or registry, with go-containerregistry: per platform a
// CGO_ENABLED=0, -trimpath, -buildid= static binary on a scratch base holding
// only what it needs (Debian's CA bundle, /etc/passwd and /etc/group entries
// for the nonroot user 65532, an empty /tmp), the binary as entrypoint, OCI
// labels, and an SPDX 2.3 JSON SBOM per platform attached as an OCI 1.1
// referrer (an artifact manifest whose subject is the platform image).
//
// Every timestamp (file mtimes, config created, history, SBOM creation
// time, the tarball's entries) is the commit time (SOURCE_DATE_EPOCH), files
// are owned by 0:0 in a fixed order, and compression is deterministic, so two
// builds of one commit give the same index digest.
//
// Output (default _output/): image/ (an OCI image layout), portico-image.tar
// (the same layout as one tar), sbom-linux-<arch>.spdx.json and digest (the
// index digest).
package main
