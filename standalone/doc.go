// Package standalone owns Portico's cluster-less input: it reads Kubernetes
// objects from multi-document YAML files in a directory, reports each
// unparsable document by file and line, builds the translate.Snapshot the
// controller would have built, and watches the directory for changes
// (inotify and a stat poll), re-reading only changed files and re-parsing
// only their changed documents (tree.go). It
// reads only regular files (directly or through symlinks, as in ConfigMap
// volumes), within MaxFileSize and MaxTotalSize, and refuses, by file and
// line, duplicate YAML keys and objects defined twice.
package standalone
