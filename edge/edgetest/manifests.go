package edgetest

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

// Namespace is where the YAML helpers put every namespaced object.
const Namespace = "edge"

// Join joins YAML documents into one multi-document file.
func Join(docs ...string) string {
	parts := make([]string, 0, len(docs))
	for _, d := range docs {
		d = strings.TrimSpace(d)
		d = strings.TrimPrefix(d, "---")
		if d = strings.TrimSpace(d); d != "" {
			parts = append(parts, d)
		}
	}
	return strings.Join(parts, "\n---\n") + "\n"
}

// IngressClass is the `portico` IngressClass (portico.dev/ingress-controller),
// marked default.
func IngressClass() string {
	return `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: portico
  annotations: {ingressclass.kubernetes.io/is-default-class: "true"}
spec: {controller: portico.dev/ingress-controller}
`
}

// Service is a Service `name` (port 80) in Namespace with an EndpointSlice
// whose one ready endpoint is addr (host:port, a Backend's Addr()).
func Service(name, addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		panic(fmt.Sprintf("edgetest.Service(%q, %q): %v", name, addr, err))
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %[1]s, namespace: %[4]s}
spec: {ports: [{port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: %[1]s-1, namespace: %[4]s, labels: {kubernetes.io/service-name: %[1]s}}
addressType: IPv4
ports: [{port: %[3]s}]
endpoints: [{addresses: ["%[2]s"], conditions: {ready: true}}]
`, name, host, port, Namespace)
}

// Path is one HTTP path of an Ingress rule.
type Path struct {
	Path    string
	Type    string // Exact, Prefix or ImplementationSpecific; "" is Prefix
	Service string // Service name (port 80) in Namespace
}

// Ingress is an Ingress `name` of class portico with one rule for host
// ("" for a rule without host) and the given paths.
func Ingress(name, host string, paths ...Path) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: %s, namespace: %s}
spec:
  ingressClassName: portico
  rules:
  - `, name, Namespace)
	if host != "" {
		fmt.Fprintf(&b, "host: %q\n    ", host)
	}
	b.WriteString("http:\n      paths:\n")
	for _, p := range paths {
		typ := p.Type
		if typ == "" {
			typ = "Prefix"
		}
		fmt.Fprintf(&b, "      - {path: %q, pathType: %s, backend: {service: {name: %s, port: {number: 80}}}}\n", p.Path, typ, p.Service)
	}
	return b.String()
}

// GatewayClass is the `portico` GatewayClass (portico.dev/gateway-controller).
func GatewayClass() string {
	return `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: portico}
spec: {controllerName: portico.dev/gateway-controller}
`
}

// Gateway is a Gateway `name` in Namespace of class portico with one HTTP
// listener named "http" bound on addr (an IP:port on loopback, from
// FreePort); routes from Namespace attach.
func Gateway(name, addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		panic(fmt.Sprintf("edgetest.Gateway(%q, %q): %v", name, addr, err))
	}
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: %s, namespace: %s}
spec:
  gatewayClassName: portico
  addresses: [{type: IPAddress, value: %s}]
  listeners: [{name: http, port: %s, protocol: HTTP}]
`, name, Namespace, host, port)
}

// HTTPRoute is an HTTPRoute `name` in Namespace attached to the Gateway
// `gateway` for hostnames, whose spec.rules are rulesYAML: a YAML list
// whose items start with two spaces and a dash, such as
// "  - backendRefs: [{name: app, port: 80}]".
func HTTPRoute(name, gateway string, hostnames []string, rulesYAML string) string {
	hs := make([]string, len(hostnames))
	for i, h := range hostnames {
		hs[i] = fmt.Sprintf("%q", h)
	}
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: %s, namespace: %s}
spec:
  parentRefs: [{name: %s}]
  hostnames: [%s]
  rules:
%s`, name, Namespace, gateway, strings.Join(hs, ", "), strings.TrimRight(rulesYAML, "\n")+"\n")
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for
// listeners whose port must be written into a manifest (Gateway listeners).
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("no free port on 127.0.0.1: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
