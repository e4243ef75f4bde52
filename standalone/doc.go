// Package standalone owns Portico's cluster-less input: it reads Kubernetes
// objects from multi-document YAML files in a directory, reports each
// unparsable document by file and line, builds the translate.Snapshot the
// controller would have built, and watches the directory for changes.
package standalone
