package translate

import (
	"fmt"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/portico-dev/portico/router"
)

// ingressDefault uses the oldest Ingress's spec.defaultBackend as the
// catch-all; any later one is reported as a conflict.
func (t *ingressProcessor) ingressDefault(ing *networkingv1.Ingress, ref ObjectRef, db *networkingv1.IngressBackend) {
	if t.defaultFrom != nil {
		t.problem(ref, "spec.defaultBackend", SeverityError, reasonDefaultConflict, defaultConflict(*t.defaultFrom))
		return
	}
	mark := len(t.res.Problems)
	route := &router.Route{
		Path: "/", PathMatch: router.PathPrefix,
		Backends: t.ingressBackend(ref, ing.Namespace, db, func() string { return "spec.defaultBackend" }),
		Source:   router.Source{Kind: ingressKind, Namespace: ing.Namespace, Name: ing.Name, Rule: -1, Path: -1},
	}
	if t.frag != nil {
		t.frag.def = &fragDefault{route: route, problems: t.takeProblems(mark)}
		return
	}
	t.defaultFrom = &ref
	t.res.Config.Default = route
}

// defaultConflict is the message of an Ingress default backend that an
// older one's keeps from being used.
func defaultConflict(winner ObjectRef) string {
	return fmt.Sprintf("the default backend is already set by %s, which is older; this one is not used", winner)
}

// controllerDefault adds the controller-wide default backend when no
// Ingress set one.
func (t *ingressProcessor) controllerDefault() {
	if t.res.Config.Default != nil || t.opts.DefaultBackend == "" {
		return
	}
	ns, name, port, err := parseServicePort(t.opts.DefaultBackend)
	ref := ObjectRef{Kind: "Service", Namespace: ns, Name: name}
	if err != nil {
		t.problem(ObjectRef{Kind: "Controller", Name: "--default-backend"}, "", SeverityError, "InvalidDefaultBackend", err.Error())
		return
	}
	be, p := t.backends.resolve(ns, name, port)
	if p != nil {
		t.problem(ref, "(controller default backend)", p.severity, p.reason, p.message)
	}
	var backends []router.WeightedBackend
	if be != nil {
		backends = []router.WeightedBackend{{Backend: be, Weight: 1}}
	}
	t.res.Config.Default = &router.Route{Path: "/", Backends: backends,
		Source: router.Source{Kind: "Controller", Name: "default-backend", Rule: -1, Path: -1}}
}

// parseServicePort parses "namespace/service:port", port by number or name.
func parseServicePort(s string) (ns, name string, port servicePortRef, err error) {
	slash := strings.IndexByte(s, '/')
	colon := strings.LastIndexByte(s, ':')
	if slash <= 0 || colon < slash+2 || colon == len(s)-1 {
		return "", "", port, fmt.Errorf("default backend %q: want namespace/service:port", s)
	}
	ns, name, p := s[:slash], s[slash+1:colon], s[colon+1:]
	if n, err := strconv.ParseInt(p, 10, 32); err == nil {
		port.number = int32(n)
	} else {
		port.name = p
	}
	return ns, name, port, nil
}
