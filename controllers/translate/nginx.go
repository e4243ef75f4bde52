package translate

import (
	"fmt"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/portico-dev/portico/router"
)

// ingress-nginx compatibility: the framework every annotation plugs into.
// An Ingress of the ingress-nginx class (see IsNginxIngress) is translated
// as any other, then each of its routes goes through the registered route
// hooks, which read the nginx.ingress.kubernetes.io annotations with
// ingress-nginx's defaults and semantics. Every annotation Portico knows is
// registered with how it is honoured, so nothing is dropped unreported and
// `portico migrate ingress-nginx` prints the same table the translation
// acts on.

// Names of ingress-nginx's class and annotations.
const (
	NginxAnnotationPrefix = "nginx.ingress.kubernetes.io/"
	NginxControllerName   = "k8s.io/ingress-nginx"
	NginxClassName        = "nginx"
)

// NginxOptions turn on ingress-nginx compatibility: Ingresses of its
// class are served with its annotations' semantics.
type NginxOptions struct {
	// ControllerName is the IngressClass spec.controller of ingress-nginx
	// (NginxControllerName when empty).
	ControllerName string
	// ClassName is the legacy kubernetes.io/ingress.class value
	// (NginxClassName when empty).
	ClassName string
	// ConfigMap is the data of ingress-nginx's controller ConfigMap: the
	// global settings (nil: its defaults).
	ConfigMap map[string]string
}

func (o *NginxOptions) controller() string {
	if o.ControllerName == "" {
		return NginxControllerName
	}
	return o.ControllerName
}

func (o *NginxOptions) class() string {
	if o.ClassName == "" {
		return NginxClassName
	}
	return o.ClassName
}

// IsNginxIngress reports whether the Ingress belongs to the ingress-nginx
// class Portico serves with --ingress-nginx-compat, by the same rules as
// OwnsIngress: spec.ingressClassName, else the legacy annotation, else the
// default class.
func IsNginxIngress(ing *networkingv1.Ingress, classes []networkingv1.IngressClass, opts Options) bool {
	if opts.Nginx == nil {
		return false
	}
	ctrl := opts.Nginx.controller()
	named := func(name string) bool {
		for i := range classes {
			if classes[i].Name == name && classes[i].Spec.Controller == ctrl {
				return true
			}
		}
		return false
	}
	if ing.Spec.IngressClassName != nil {
		return named(*ing.Spec.IngressClassName)
	}
	if v, ok := ing.Annotations[AnnotationIngressClass]; ok {
		return v == opts.Nginx.class() || named(v)
	}
	if defaultClassOf(classes, opts.ControllerName) {
		return false // Portico's own default class wins
	}
	return defaultClassOf(classes, ctrl)
}

// defaultClassOf reports whether an IngressClass of the controller is
// marked as the cluster default.
func defaultClassOf(classes []networkingv1.IngressClass, ctrl string) bool {
	for i := range classes {
		if classes[i].Spec.Controller == ctrl && classes[i].Annotations[AnnotationDefaultClass] == "true" {
			return true
		}
	}
	return false
}

// NginxSupport says how Portico honours an ingress-nginx annotation.
type NginxSupport string

// Levels of support.
const (
	// NginxSupported: the same behaviour as ingress-nginx documents.
	NginxSupported NginxSupport = "supported"
	// NginxDifferent: honoured, with a difference the note states.
	NginxDifferent NginxSupport = "supported-with-difference"
	// NginxUnsupported: not honoured; a Warning says so.
	NginxUnsupported NginxSupport = "unsupported"
	// NginxRefused: an Ingress using it is not served (snippets: raw
	// nginx configuration is never executed).
	NginxRefused NginxSupport = "refused"
)

// NginxAnnotation documents one ingress-nginx annotation.
type NginxAnnotation struct {
	// Name is the annotation without NginxAnnotationPrefix.
	Name    string       `json:"name"`
	Support NginxSupport `json:"support"`
	// Default is ingress-nginx's default value, when it has one.
	Default string `json:"default,omitempty"`
	// Note states the difference, or why it is not honoured.
	Note string `json:"note,omitempty"`
}

// nginxRegistry holds every annotation Portico knows, by Name.
var nginxRegistry = map[string]NginxAnnotation{}

// registerNginx adds annotations to the registry (from init functions of
// the files implementing them).
func registerNginx(as ...NginxAnnotation) {
	for _, a := range as {
		if _, dup := nginxRegistry[a.Name]; dup {
			panic("ingress-nginx annotation registered twice: " + a.Name)
		}
		nginxRegistry[a.Name] = a
	}
}

// NginxAnnotations lists the registered annotations by name.
func NginxAnnotations() []NginxAnnotation {
	out := make([]NginxAnnotation, 0, len(nginxRegistry))
	for _, a := range nginxRegistry {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b NginxAnnotation) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// LookupNginxAnnotation returns the registry entry of an annotation name
// (with or without the prefix).
func LookupNginxAnnotation(name string) (NginxAnnotation, bool) {
	a, ok := nginxRegistry[strings.TrimPrefix(name, NginxAnnotationPrefix)]
	return a, ok
}

// nginxIngress is one Ingress under ingress-nginx semantics, as route
// hooks see it.
type nginxIngress struct {
	t   *ingressProcessor
	ing *networkingv1.Ingress
	ref ObjectRef
	// global is the controller ConfigMap (never nil).
	global map[string]string
	// refused, when set by an Ingress hook, keeps the Ingress from being
	// served; it is the message of the refusal.
	refused string
	// policy collects the access and limit annotations (nginx_access.go);
	// canary is set for a canary Ingress (nginx_canary.go).
	policy *nginxPolicy
	canary *nginxCanary
	// proxySSL holds the proxy-ssl-* annotations (nginx_backend_tls.go),
	// nil without any.
	proxySSL *nginxProxySSL
	// errors holds custom-http-errors and default-backend
	// (nginx_errors.go), nil without them.
	errors *nginxErrors
}

// value returns the annotation name (without prefix).
func (n *nginxIngress) value(name string) (string, bool) {
	v, ok := n.ing.Annotations[NginxAnnotationPrefix+name]
	return v, ok
}

// problem reports a problem with the annotation name (without prefix).
func (n *nginxIngress) problem(name string, sev Severity, reason, msg string) {
	n.t.problem(n.ref, "metadata.annotations["+NginxAnnotationPrefix+name+"]", sev, reason, msg)
}

// nginxPath is the rule and path a route came from.
type nginxPath struct {
	rule, path int
	// raw is the path as written in the Ingress.
	raw string
}

// nginxIngressHook runs once per ingress-nginx Ingress before its routes
// are built; it may set refused.
type nginxIngressHook func(n *nginxIngress)

// nginxRouteHook adjusts one route of an ingress-nginx Ingress.
type nginxRouteHook func(n *nginxIngress, p nginxPath, r *router.Route)

type orderedHook[H any] struct {
	order int
	name  string
	hook  H
}

var (
	nginxIngressHooks []orderedHook[nginxIngressHook]
	nginxRouteHooks   []orderedHook[nginxRouteHook]
)

// onNginxIngress registers an Ingress hook; hooks run by ascending order,
// then name.
func onNginxIngress(order int, name string, h nginxIngressHook) {
	nginxIngressHooks = insertHook(nginxIngressHooks, orderedHook[nginxIngressHook]{order, name, h})
}

// onNginxRoute registers a route hook; hooks run by ascending order, then
// name.
func onNginxRoute(order int, name string, h nginxRouteHook) {
	nginxRouteHooks = insertHook(nginxRouteHooks, orderedHook[nginxRouteHook]{order, name, h})
}

func insertHook[H any](hs []orderedHook[H], h orderedHook[H]) []orderedHook[H] {
	hs = append(hs, h)
	slices.SortStableFunc(hs, func(a, b orderedHook[H]) int {
		if a.order != b.order {
			return a.order - b.order
		}
		return strings.Compare(a.name, b.name)
	})
	return hs
}

// newNginx runs the Ingress hooks of an ingress-nginx Ingress.
func (t *ingressProcessor) newNginx(ing *networkingv1.Ingress, ref ObjectRef) *nginxIngress {
	n := &nginxIngress{t: t, ing: ing, ref: ref, global: t.opts.Nginx.ConfigMap}
	if n.global == nil {
		n.global = map[string]string{}
	}
	for _, h := range nginxIngressHooks {
		h.hook(n)
		if n.refused != "" {
			t.problem(ref, "metadata.annotations", SeverityError, "AnnotationRefused", n.refused)
			return n
		}
	}
	return n
}

// route runs the route hooks on one route.
func (n *nginxIngress) route(p nginxPath, r *router.Route) {
	for _, h := range nginxRouteHooks {
		h.hook(n, p, r)
	}
}

// nginxForeign reports the ingress-nginx annotations of an Ingress that
// Portico does not honour (unsupported, or unknown to it).
func (n *nginxIngress) nginxForeign() {
	keys := make([]string, 0, len(n.ing.Annotations))
	for k := range n.ing.Annotations {
		if strings.HasPrefix(k, NginxAnnotationPrefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		name := strings.TrimPrefix(k, NginxAnnotationPrefix)
		a, ok := nginxRegistry[name]
		switch {
		case !ok:
			n.problem(name, SeverityWarning, "UnsupportedAnnotation", fmt.Sprintf(
				"ingress-nginx annotation %q is not known to Portico and is ignored", k))
		case a.Support == NginxUnsupported:
			n.problem(name, SeverityWarning, "UnsupportedAnnotation", fmt.Sprintf(
				"ingress-nginx annotation %q is not supported and is ignored: %s", k, a.Note))
		}
	}
}

// hasNginxAnnotation reports whether an Ingress carries an ingress-nginx
// annotation. Some act across Ingresses (canary, use-regex), so the Engine
// translates whole while any such Ingress exists.
func hasNginxAnnotation(ing *networkingv1.Ingress) bool {
	for k := range ing.Annotations {
		if strings.HasPrefix(k, NginxAnnotationPrefix) {
			return true
		}
	}
	return false
}
