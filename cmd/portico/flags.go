package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/dataplane"
	"github.com/portico-dev/portico/router"
	"github.com/portico-dev/portico/standalone"
)

// common holds the flags shared by every mode that serves traffic.
type common struct {
	ingressClass   string
	controllerName string
	gatewayCtrl    string
	defaultBackend string
	defaultCert    string
	httpAddr       string
	httpsAddr      string
	trusted        string
	bodyTimeout    time.Duration
	sendTimeout    time.Duration
	escapedSlashes string
	engine         string
	accessLog      bool
	drainDelay     time.Duration
	drainGrace     time.Duration
	istio          string
	istioSelector  string
	tracing        tracingFlags
	nginxCompat    bool
	nginxConfigMap string
	heapHeadroom   int
	proxyFrom      string
	proxyTimeout   time.Duration
}

func (c *common) register(fs *flag.FlagSet, serving bool) {
	fs.StringVar(&c.ingressClass, "ingress-class", "portico", "IngressClass name served (also matched in the legacy kubernetes.io/ingress.class annotation)")
	fs.StringVar(&c.controllerName, "controller-name", "portico.dev/ingress-controller", "spec.controller value of the IngressClasses served")
	fs.StringVar(&c.gatewayCtrl, "gateway-controller-name", "portico.dev/gateway-controller", "spec.controllerName of the GatewayClasses served (empty turns the Gateway API off)")
	fs.StringVar(&c.defaultBackend, "default-backend", "", "namespace/service:port serving requests that match no rule and no Ingress defaultBackend")
	fs.StringVar(&c.defaultCert, "default-certificate", "", "namespace/name of a kubernetes.io/tls Secret served for unknown or missing SNI (default: a self-signed certificate generated at start)")
	fs.StringVar(&c.istio, "istio", "auto", "serve Istio Gateways and VirtualServices: auto (when the CRDs exist), true or false")
	fs.StringVar(&c.istioSelector, "istio-gateway-selector", "istio=ingressgateway", "Portico's workload labels, k=v,...: Istio Gateways whose spec.selector they satisfy are served")
	fs.BoolVar(&c.nginxCompat, "ingress-nginx-compat", false, "also serve IngressClasses of controller "+translate.NginxControllerName+
		" (and the legacy class annotation \""+translate.NginxClassName+"\") with ingress-nginx's annotation semantics")
	fs.StringVar(&c.nginxConfigMap, "ingress-nginx-configmap", "", "namespace/name of ingress-nginx's controller ConfigMap, whose global settings apply to its class "+
		"(standalone: among the manifests, default "+standalone.DefaultNginxConfigMap+"; controller: none, ingress-nginx's defaults)")
	if !serving {
		return
	}
	fs.StringVar(&c.httpAddr, "http-addr", ":8080", "HTTP listener address (empty disables)")
	fs.StringVar(&c.httpsAddr, "https-addr", ":8443", "HTTPS listener address (empty disables)")
	fs.StringVar(&c.proxyFrom, "proxy-protocol-from", "", "comma-separated CIDRs of load balancers that send a PROXY protocol v1/v2 header: every client-facing connection must then start with one from them (others are closed); its source address becomes the client's (empty: off)")
	fs.DurationVar(&c.proxyTimeout, "proxy-protocol-timeout", router.DefaultProxyProtocolTimeout, "longest wait for a connection's PROXY header")
	fs.StringVar(&c.trusted, "trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-* headers are trusted")
	fs.DurationVar(&c.bodyTimeout, "client-body-timeout", router.DefaultBodyReadTimeout, "longest wait for the next bytes of a request body; a client that stalls longer gets 408 and is disconnected")
	fs.DurationVar(&c.sendTimeout, "client-send-timeout", router.DefaultSendTimeout, "longest a response write waits for the client to read (HTTP/2: to open its flow-control window); then the stream or connection is reset")
	fs.StringVar(&c.escapedSlashes, "path-escaped-slashes", "keep", "escaped slashes (%2F) and backslashes (%5C) in request paths: keep (route and forward as sent), reject (400) or decode (into / before routing)")
	fs.StringVar(&c.engine, "http1-engine", envOr("PORTICO_HTTP1_ENGINE", "fast"), "HTTP/1.x engine of client-facing listeners: fast (fasthttp; HTTP/2, upgrades and ACME challenges stay on net/http) or std (net/http for everything)")
	fs.BoolVar(&c.accessLog, "access-log", false, "write a JSON access log line per request to stdout")
	fs.DurationVar(&c.drainDelay, "shutdown-delay", 5*time.Second, "on SIGTERM, time /readyz reports failure before listeners stop accepting")
	fs.DurationVar(&c.drainGrace, "shutdown-grace", 25*time.Second, "on SIGTERM, time in-flight requests get to finish")
	fs.IntVar(&c.heapHeadroom, "heap-headroom", 0, "once the first table is live, collect garbage before the heap exceeds the live heap by this percent (at least 64 MiB) instead of Go's 100% (less memory in bursts, more CPU in collections); 0 keeps Go's default; ignored when GOMEMLIMIT is set")
	c.tracing.register(fs)
}

func (c *common) translate() (translate.Options, error) {
	o := translate.Options{ControllerName: c.controllerName, IngressClass: c.ingressClass, GatewayControllerName: c.gatewayCtrl,
		DefaultBackend: c.defaultBackend, DefaultCertificate: c.defaultCert}
	if c.nginxConfigMap != "" {
		if !c.nginxCompat {
			return o, fmt.Errorf("--ingress-nginx-configmap needs --ingress-nginx-compat")
		}
		if ns, name, ok := strings.Cut(c.nginxConfigMap, "/"); !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			return o, fmt.Errorf("--ingress-nginx-configmap %q: want namespace/name", c.nginxConfigMap)
		}
	}
	if c.nginxCompat {
		o.Nginx = &translate.NginxOptions{}
	}
	switch c.istio {
	case "false":
		return o, nil
	case "auto", "true":
	default:
		return o, fmt.Errorf("--istio: want auto, true or false, not %q", c.istio)
	}
	sel := map[string]string{}
	for _, kv := range splitList(c.istioSelector) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return o, fmt.Errorf("--istio-gateway-selector: %q is not key=value", kv)
		}
		sel[k] = v
	}
	o.Istio = &translate.IstioOptions{Selector: sel, PerGateway: true}
	return o, nil
}

func (c *common) edge() (router.EdgeOptions, error) {
	e, err := router.ParseEscapedSlashes(c.escapedSlashes)
	if err != nil {
		return router.EdgeOptions{}, fmt.Errorf("--path-escaped-slashes: %w", err)
	}
	if c.bodyTimeout <= 0 || c.sendTimeout <= 0 {
		return router.EdgeOptions{}, fmt.Errorf("--client-body-timeout and --client-send-timeout must be positive")
	}
	eng, err := router.ParseEngine(c.engine)
	if err != nil {
		return router.EdgeOptions{}, fmt.Errorf("--http1-engine: %w", err)
	}
	opts := router.EdgeOptions{BodyReadTimeout: c.bodyTimeout, SendTimeout: c.sendTimeout, EscapedSlashes: e, Engine: eng}
	if c.proxyFrom != "" {
		from, err := parsePrefixes(c.proxyFrom)
		if err != nil {
			return router.EdgeOptions{}, fmt.Errorf("--proxy-protocol-from: %w", err)
		}
		opts.ProxyProtocol = &router.ProxyProtocol{Trusted: from, Timeout: c.proxyTimeout}
	}
	return opts, nil
}

// runtime applies the process-wide settings: the heap headroom.
func (c *common) runtime() { dataplane.SetHeapHeadroom(c.heapHeadroom) }

func (c *common) drain() router.Drain { return router.Drain{Delay: c.drainDelay, Grace: c.drainGrace} }

func (c *common) trustedProxies() ([]netip.Prefix, error) {
	return parsePrefixes(c.trusted)
}

func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range splitList(s) {
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("--trusted-proxies: %w", err)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies: %w", err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// envOr is the environment variable's value, or def when it is unset.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}
