package standalone

import (
	"fmt"
	"strings"

	"github.com/portico-dev/portico/controllers/translate"
)

// DefaultNginxConfigMap is the ConfigMap ingress-nginx's manifests and
// chart install its controller with; standalone mode reads it from the
// directory when --ingress-nginx-configmap names none.
const DefaultNginxConfigMap = "ingress-nginx/ingress-nginx-controller"

// NginxConfig returns the data of the ConfigMap ref ("namespace/name";
// DefaultNginxConfigMap when empty) among the snapshot's ConfigMaps, and
// whether it is there. An empty namespace in a file means "default", as
// the API server reads it.
func NginxConfig(snap *translate.Snapshot, ref string) (map[string]string, bool, error) {
	if ref == "" {
		ref = DefaultNginxConfigMap
	}
	ns, name, ok := strings.Cut(ref, "/")
	if !ok || ns == "" || name == "" {
		return nil, false, fmt.Errorf("--ingress-nginx-configmap %q: want namespace/name", ref)
	}
	for i := range snap.ConfigMaps {
		cm := &snap.ConfigMaps[i]
		cns := cm.Namespace
		if cns == "" {
			cns = "default"
		}
		if cns == ns && cm.Name == name {
			data := make(map[string]string, len(cm.Data))
			for k, v := range cm.Data {
				data[k] = v
			}
			return data, true, nil
		}
	}
	return nil, false, nil
}

// WithNginxConfig returns opts with the ingress-nginx ConfigMap of the
// snapshot in Nginx.ConfigMap (a copy: opts is not modified), when
// compatibility is on.
func WithNginxConfig(opts translate.Options, snap *translate.Snapshot, ref string) (translate.Options, error) {
	if opts.Nginx == nil {
		return opts, nil
	}
	data, _, err := NginxConfig(snap, ref)
	if err != nil {
		return opts, err
	}
	n := *opts.Nginx
	n.ConfigMap = data
	opts.Nginx = &n
	return opts, nil
}

// NginxConfigProblems are the findings of translate.NginxConfigFindings
// on the ingress-nginx ConfigMap of the snapshot, attributed to it.
func NginxConfigProblems(snap *translate.Snapshot, ref string) []translate.Problem {
	if ref == "" {
		ref = DefaultNginxConfigMap
	}
	data, found, err := NginxConfig(snap, ref)
	if err != nil || !found {
		return nil
	}
	ns, name, _ := strings.Cut(ref, "/")
	ps := translate.NginxConfigFindings(data)
	for i := range ps {
		ps[i].Object = translate.ObjectRef{Kind: "ConfigMap", Namespace: ns, Name: name}
	}
	return ps
}
