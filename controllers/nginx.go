package controllers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/portico-dev/portico/controllers/translate"
)

// nginxConfig tracks ingress-nginx's controller ConfigMap
// (--ingress-nginx-configmap): its data is the NginxOptions.ConfigMap of
// every rebuild, and a change of it triggers one (see SetupWithManager).
type nginxConfig struct {
	key   client.ObjectKey
	cache configMaps
	// state is what was last reported: "" before the first read,
	// "missing", or the resourceVersion whose findings were reported;
	// evented says the missing ConfigMap's Event reached an IngressClass.
	state   string
	evented bool
}

// parseNginxConfigMap reads "namespace/name"; "" is no ConfigMap.
func parseNginxConfigMap(ref string) (client.ObjectKey, error) {
	if ref == "" {
		return client.ObjectKey{}, nil
	}
	ns, name, ok := strings.Cut(ref, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return client.ObjectKey{}, fmt.Errorf("--ingress-nginx-configmap %q: want namespace/name", ref)
	}
	return client.ObjectKey{Namespace: ns, Name: name}, nil
}

// nginxOptions returns opts with the ConfigMap's data in
// Nginx.ConfigMap. A missing ConfigMap means ingress-nginx's defaults (and
// a log line and a Warning Event on its IngressClasses, once); an API
// error is returned, so the current table keeps serving.
func (r *Reconciler) nginxOptions(ctx context.Context, opts translate.Options) (translate.Options, error) {
	if opts.Nginx == nil || r.nginx.key.Name == "" {
		return opts, nil
	}
	c := &r.nginx
	cm, err := c.cache.get(ctx, r.Client, r.APIReader, c.key)
	if err != nil {
		return opts, err
	}
	c.cache.byKey = map[client.ObjectKey]*corev1.ConfigMap{c.key: cm}
	n := *opts.Nginx
	opts.Nginx = &n
	log := ctrl.LoggerFrom(ctx)
	if cm == nil {
		n.ConfigMap = nil
		if c.state != "missing" {
			log.Info("ingress-nginx ConfigMap not found: its defaults apply", "configMap", c.key.String())
			c.state, c.evented = "missing", false
		}
		if !c.evented && r.IsLeader() {
			// Until an IngressClass of ingress-nginx exists, there is
			// nothing to attach the Event to: tried again each rebuild.
			c.evented = r.nginxClassEvent(ctx, "ConfigMapNotFound", fmt.Sprintf(
				"ingress-nginx ConfigMap %s not found: ingress-nginx's defaults apply", c.key))
		}
		return opts, nil
	}
	n.ConfigMap = cm.Data
	if c.state != cm.ResourceVersion && r.IsLeader() {
		for _, p := range translate.NginxConfigFindings(cm.Data) {
			log.Info("ingress-nginx ConfigMap", "configMap", c.key.String(), "field", p.Field, "message", p.Message)
			if r.Recorder != nil {
				r.Recorder.Eventf(cm, nil, corev1.EventTypeWarning, p.Reason, "Translate", "%s: %s", p.Field, p.Message)
			}
		}
		c.state = cm.ResourceVersion
	}
	return opts, nil
}

// nginxClassEvent records a Warning Event on the IngressClasses of
// ingress-nginx's controller, and reports whether there was one.
func (r *Reconciler) nginxClassEvent(ctx context.Context, reason, msg string) bool {
	if r.Recorder == nil {
		return true
	}
	var classes networkingv1.IngressClassList
	if err := r.Client.List(ctx, &classes); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing IngressClasses for an Event")
		return false
	}
	sent := false
	ctrlName := r.Translate.Nginx.ControllerName
	if ctrlName == "" {
		ctrlName = translate.NginxControllerName
	}
	for i := range classes.Items {
		if classes.Items[i].Spec.Controller == ctrlName {
			r.Recorder.Eventf(&classes.Items[i], nil, corev1.EventTypeWarning, reason, "Translate", "%s", msg)
			sent = true
		}
	}
	return sent
}

// isNginxConfigMap selects the ConfigMap events that concern ingress-nginx's
// ConfigMap.
func (r *Reconciler) isNginxConfigMap(o client.Object) bool {
	return o.GetNamespace() == r.nginx.key.Namespace && o.GetName() == r.nginx.key.Name
}
