package translate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/portico-dev/portico/router"
)

// custom-http-errors and default-backend: backend answers of the listed
// statuses are replaced by the default backend's page (router.ErrorPages),
// and with default-backend a Service without ready endpoints hands its
// requests to that Service.

func init() {
	registerNginx(
		NginxAnnotation{Name: "custom-http-errors", Support: NginxDifferent,
			Note: "statuses (300-599, comma-separated; the ConfigMap key sets the default, the annotation replaces it) whose backend answers are replaced by " +
				"the default backend's answer to \"/\" (method and query kept, no body) with X-Code, X-Format, X-Original-URI, X-Namespace, X-Ingress-Name, " +
				"X-Service-Name, X-Service-Port and X-Request-ID; its status, headers and body go to the client. Portico's own answers (502/504 when the " +
				"backend cannot be reached, policy refusals) are not replaced. Without default-backend or --default-backend, listed statuses answer 404, " +
				"as ingress-nginx's built-in default backend. An invalid list makes the routes answer 503."},
		NginxAnnotation{Name: "default-backend", Support: NginxSupported,
			Note: "a Service of the Ingress's namespace (its first port): the error backend of custom-http-errors, and where requests go, with X-Code 503 " +
				"and the other error headers, while the path's Service has no ready endpoint. A Service that does not exist makes the routes answer 503."},
	)
	onNginxIngress(127, "default-backend", nginxErrorsIngress)
	onNginxRoute(40, "custom-http-errors", nginxErrorsRoute)
}

// nginxErrors is what custom-http-errors and default-backend say for one
// Ingress.
type nginxErrors struct {
	codes   []int
	backend *router.Backend
	// fallback: default-backend is set, so it also serves a Service
	// without ready endpoints.
	fallback bool
}

// nginxErrorsIngress reads the codes and the error backend once.
func nginxErrorsIngress(n *nginxIngress) {
	codes, ok := n.errorCodes()
	if !ok {
		return
	}
	svc, named := n.value("default-backend")
	if len(codes) == 0 && !named {
		return
	}
	e := &nginxErrors{codes: codes, fallback: named}
	if named {
		svc = strings.TrimSpace(svc)
		s := n.t.backends.service(nsName{n.ing.Namespace, svc})
		switch {
		case !isDNSName(svc):
			n.failClosed("default-backend", reasonInvalidAnnotation, quote(svc)+" is not a Service name")
			return
		case s == nil || len(s.Spec.Ports) == 0:
			n.failClosed("default-backend", reasonServiceNotFound, "Service "+n.ing.Namespace+"/"+svc+" not found, or it has no port")
			return
		}
		b, p := n.t.backends.resolve(n.ing.Namespace, svc, servicePortRef{number: s.Spec.Ports[0].Port})
		if b == nil {
			n.failClosed("default-backend", p.reason, p.message)
			return
		}
		if p != nil {
			n.problem("default-backend", p.severity, p.reason, p.message)
		}
		e.backend = b
	} else {
		e.backend = n.controllerDefaultBackend()
	}
	n.errors = e
}

// errorCodes parses custom-http-errors (the annotation, else the
// ConfigMap key); false when the value is invalid (reported, failed
// closed).
func (n *nginxIngress) errorCodes() ([]int, bool) {
	v, ok := n.value("custom-http-errors")
	from := ""
	if !ok {
		v, from = n.global["custom-http-errors"], " (the ConfigMap's custom-http-errors)"
	}
	var codes []int
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		c, err := strconv.Atoi(f)
		if err != nil || c < 300 || c > 599 {
			n.failClosed("custom-http-errors", reasonInvalidAnnotation, fmt.Sprintf("%q%s: %q is not a status of 300 to 599", v, from, f))
			return nil, false
		}
		if !slices.Contains(codes, c) {
			codes = append(codes, c)
		}
	}
	return codes, true
}

// controllerDefaultBackend is the error backend without default-backend:
// the controller's --default-backend, else a 404 for every listed status
// (ingress-nginx's built-in default backend answers 404).
func (n *nginxIngress) controllerDefaultBackend() *router.Backend {
	builtin := &router.Backend{Name: "default-backend (built-in)", Status: 404, Reason: "default backend - 404"}
	if n.t.opts.DefaultBackend == "" {
		return builtin
	}
	ns, name, port, err := parseServicePort(n.t.opts.DefaultBackend)
	if err != nil {
		return builtin
	}
	b, _ := n.t.backends.resolve(ns, name, port)
	if b == nil {
		return builtin
	}
	return b
}

// nginxErrorsRoute attaches the Ingress's error pages to a route.
func nginxErrorsRoute(n *nginxIngress, p nginxPath, r *router.Route) {
	e := n.errors
	if e == nil || e.backend == nil {
		return
	}
	ep := &router.ErrorPages{Codes: e.codes, Backend: e.backend, WhenUnavailable: e.fallback,
		Namespace: n.ing.Namespace, Ingress: n.ing.Name}
	if p.rule >= 0 && p.rule < len(n.ing.Spec.Rules) {
		if h := n.ing.Spec.Rules[p.rule].HTTP; h != nil && p.path >= 0 && p.path < len(h.Paths) {
			if s := h.Paths[p.path].Backend.Service; s != nil {
				ep.Service = s.Name
				ep.ServicePort = s.Port.Name
				if s.Port.Number != 0 {
					ep.ServicePort = strconv.Itoa(int(s.Port.Number))
				}
			}
		}
	}
	r.ErrorPages = ep
}
