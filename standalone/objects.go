package standalone

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// objectKey identifies an object as the API server does: all versions of a
// kind share it, and cluster-scoped kinds have no namespace.
type objectKey struct {
	group, kind, namespace, name string
}

// clusterScoped are the cluster-scoped kinds AddToSnapshot reads; every
// other kind is namespaced, an empty namespace meaning "default".
var clusterScoped = map[schema.GroupKind]bool{
	{Group: "", Kind: "Namespace"}:                             true,
	{Group: "networking.k8s.io", Kind: "IngressClass"}:         true,
	{Group: "gateway.networking.k8s.io", Kind: "GatewayClass"}: true,
}

// objectIndex remembers where each object was defined ("file:line"), to
// refuse a second definition, which a cluster could not hold either.
type objectIndex map[objectKey]string

// add records p, defined in file, or returns a *FileError at p naming the
// place of the earlier definition. Objects without a name are not indexed.
func (ix objectIndex) add(file string, p parsed) error {
	m, ok := p.obj.(metav1.Object)
	if !ok || m.GetName() == "" {
		return nil
	}
	gk := p.gvk.GroupKind()
	k := objectKey{gk.Group, gk.Kind, m.GetNamespace(), m.GetName()}
	switch {
	case clusterScoped[gk]:
		k.namespace = ""
	case k.namespace == "":
		k.namespace = "default"
	}
	here := fmt.Sprintf("%s:%d", file, p.line)
	if first, dup := ix[k]; dup {
		return &FileError{File: file, Line: p.line, Err: fmt.Errorf("%s is defined twice, first at %s", k, first)}
	}
	ix[k] = here
	return nil
}

// String names the object as "Ingress.networking.k8s.io default/shop".
func (k objectKey) String() string {
	kind := k.kind
	if k.group != "" {
		kind += "." + k.group
	}
	if k.namespace == "" {
		return kind + " " + k.name
	}
	return kind + " " + k.namespace + "/" + k.name
}
