package translate

import (
	"crypto/x509"
	"fmt"
	"slices"
	"strconv"
	"strings"

	istionet "istio.io/api/networking/v1alpha3"
	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portico-dev/portico/router"
	certs "github.com/portico-dev/portico/tls"
)

// Kinds of the Istio objects, as named in ObjectRefs, Problems and Events.
const (
	KindIstioGateway    = "IstioGateway"
	KindVirtualService  = "VirtualService"
	KindDestinationRule = "DestinationRule"
)

// Problem reasons of the Istio translation.
const (
	reasonUnsupportedField = "UnsupportedField"
	reasonUnresolvedRef    = "UnresolvedReference"
	reasonInvalidField     = "InvalidField"
)

// IstioOptions turn the Istio translation on and say how Portico serves
// Istio Gateway ports.
type IstioOptions struct {
	// Selector holds Portico's workload labels: a Gateway whose
	// spec.selector they satisfy is Portico's.
	Selector map[string]string
	// MainPorts are server ports of Portico's own Service that its main
	// HTTP and HTTPS listeners serve; servers on them share those
	// listeners (key "").
	MainPorts []int32
	// PerGateway gives each Gateway its own listeners (standalone mode,
	// where each Gateway has its own address) instead of one listener per
	// port shared by every Gateway, as Istio's gateway pods do.
	PerGateway bool
	// Namespace is Portico's namespace, the second place credentialName
	// Secrets are looked up (Istio reads them from the gateway
	// workload's namespace).
	Namespace string
}

// istioProcessor translates Istio Gateways that select Portico, the
// VirtualServices bound to them and the DestinationRules of the Services
// those route to.
type istioProcessor struct {
	*common
	// istioDRs are the DestinationRules by the Service they apply to.
	istioDRs map[nsName]*istiov1.DestinationRule
}

// istioServer is one server of a selected Gateway.
type istioServer struct {
	gw    *istiov1.Gateway
	index int
	srv   *istionet.Server
	key   string // router listener key
	port  int32
	kind  istioPortKind
	hosts []istioHost
}

type istioPortKind uint8

const (
	istioHTTP        istioPortKind = iota // HTTP, HTTP2, GRPC, or HTTPS terminated
	istioPassthrough                      // TLS or HTTPS with mode PASSTHROUGH
	istioTCP
)

// istioHost is a server host: a namespace filter ("*", "." for the
// Gateway's own, or a name) and a hostname ("*" for any).
type istioHost struct {
	ns, host string
}

// selectsPortico reports whether a Gateway's selector matches Portico's
// labels (an empty selector selects every workload).
func selectsPortico(sel, ours map[string]string) bool {
	for k, v := range sel {
		if ours[k] != v {
			return false
		}
	}
	return true
}

// istio translates Istio Gateways and VirtualServices.
func (t *istioProcessor) istio() {
	o := t.opts.Istio
	if o == nil {
		return
	}
	gws := slices.Clone(t.snap.IstioGateways)
	sortOldestFirst(gws)
	servers := map[nsName][]*istioServer{}
	listeners := map[string]int{}
	for _, gw := range gws {
		ref := ObjectRef{Kind: KindIstioGateway, Namespace: gw.Namespace, Name: gw.Name}
		if !selectsPortico(gw.Spec.GetSelector(), o.Selector) {
			continue
		}
		t.res.IstioObjects = append(t.res.IstioObjects, ref)
		for i, srv := range gw.Spec.GetServers() {
			if s := t.istioServer(gw, ref, i, srv, listeners); s != nil {
				servers[nsName{gw.Namespace, gw.Name}] = append(servers[nsName{gw.Namespace, gw.Name}], s)
			}
		}
	}
	t.istioDRs = t.destinationRules()
	t.virtualServices(servers)
}

// istioServer validates one server and registers the listener it needs.
func (t *istioProcessor) istioServer(gw *istiov1.Gateway, ref ObjectRef, i int, srv *istionet.Server, listeners map[string]int) *istioServer {
	field := fmt.Sprintf("spec.servers[%d]", i)
	p := srv.GetPort()
	if p == nil || p.GetNumber() == 0 || p.GetNumber() > 65535 {
		t.problem(ref, field+".port", SeverityError, reasonInvalidField, "a server needs a port number in 1-65535")
		return nil
	}
	s := &istioServer{gw: gw, index: i, srv: srv, port: int32(p.GetNumber())}
	tlsMode := srv.GetTls().GetMode()
	proto := gatewayv1.HTTPProtocolType
	switch strings.ToUpper(p.GetProtocol()) {
	case "HTTP", "HTTP2", "GRPC", "GRPC-WEB":
		if srv.GetTls() != nil && !srv.GetTls().GetHttpsRedirect() {
			t.problem(ref, field+".tls", SeverityWarning, reasonUnsupportedField, "tls settings on a plaintext "+p.GetProtocol()+" server are ignored")
		}
	case "HTTPS":
		switch tlsMode {
		case istionet.ServerTLSSettings_SIMPLE, istionet.ServerTLSSettings_MUTUAL:
			proto = gatewayv1.HTTPSProtocolType
		case istionet.ServerTLSSettings_PASSTHROUGH:
			s.kind, proto = istioPassthrough, gatewayv1.TLSProtocolType
		default:
			t.problem(ref, field+".tls.mode", SeverityError, reasonUnsupportedField,
				fmt.Sprintf("tls mode %s is not supported (SIMPLE, MUTUAL and PASSTHROUGH are)", tlsMode))
			return nil
		}
	case "TLS":
		if tlsMode != istionet.ServerTLSSettings_PASSTHROUGH {
			t.problem(ref, field+".tls.mode", SeverityError, reasonUnsupportedField,
				fmt.Sprintf("tls mode %s on a TLS server is not supported (PASSTHROUGH is)", tlsMode))
			return nil
		}
		s.kind, proto = istioPassthrough, gatewayv1.TLSProtocolType
	case "TCP":
		s.kind, proto = istioTCP, gatewayv1.TCPProtocolType
	default:
		t.problem(ref, field+".port.protocol", SeverityError, reasonUnsupportedField,
			fmt.Sprintf("protocol %q is not supported (HTTP, HTTPS, HTTP2, GRPC, TLS, TCP are)", p.GetProtocol()))
		return nil
	}
	for j, h := range srv.GetHosts() {
		ns, host, ok := strings.Cut(h, "/")
		if !ok {
			ns, host = "*", h
		}
		if ns == "~" {
			continue
		}
		if host == "" {
			t.problem(ref, fmt.Sprintf("%s.hosts[%d]", field, j), SeverityError, reasonInvalidField, "empty host")
			continue
		}
		s.hosts = append(s.hosts, istioHost{ns: ns, host: strings.ToLower(host)})
	}
	for _, f := range []struct {
		set  bool
		name string
	}{{srv.GetBind() != "", "bind"}, {srv.GetDefaultEndpoint() != "", "defaultEndpoint"},
		{p.GetTargetPort() != 0, "port.targetPort"}} { //nolint:staticcheck // deprecated, still written; reported
		if f.set {
			t.problem(ref, field+"."+f.name, SeverityWarning, reasonUnsupportedField, f.name+" is ignored")
		}
	}
	s.key = t.istioListenerKey(gw, s.port)
	var certificates []certs.Certificate
	if proto == gatewayv1.HTTPSProtocolType {
		certificates = t.istioCertificates(ref, field, srv, s)
	}
	if s.key == "" {
		if proto == gatewayv1.TCPProtocolType {
			t.problem(ref, field+".port", SeverityError, reasonUnsupportedField,
				fmt.Sprintf("port %d is served by Portico's HTTP/HTTPS listeners and cannot carry TCP", s.port))
			return nil
		}
		t.res.Certificates = append(t.res.Certificates, certificates...)
		return s
	}
	idx, ok := listeners[s.key]
	if !ok {
		idx = len(t.res.GatewayListeners)
		listeners[s.key] = idx
		t.res.GatewayListeners = append(t.res.GatewayListeners, GatewayListener{Key: s.key, Gateway: ref, Port: s.port, Protocol: proto})
	}
	gl := &t.res.GatewayListeners[idx]
	if gl.Protocol != proto {
		t.problem(ref, field+".port", SeverityError, "PortConflict",
			fmt.Sprintf("port %d already serves %s for Gateway %s; a port carries one protocol", s.port, gl.Protocol, gl.Gateway))
		return nil
	}
	if proto == gatewayv1.HTTPSProtocolType {
		gl.TLS = true
		gl.Certificates = append(gl.Certificates, certificates...)
	}
	if gl.Address == "" && t.opts.Istio.PerGateway {
		gl.Address = gw.Annotations[AnnotationIstioAddress]
	}
	return s
}

// AnnotationIstioAddress on an Istio Gateway asks standalone mode to bind
// its servers on this IP, as spec.addresses does for Gateway API Gateways.
const AnnotationIstioAddress = "portico.dev/address"

// istioListenerKey names the router listener serving a Gateway's port.
func (t *istioProcessor) istioListenerKey(gw *istiov1.Gateway, port int32) string {
	o := t.opts.Istio
	switch {
	case o.PerGateway:
		return router.ListenerKey(KindIstioGateway, gw.Namespace, gw.Name, port)
	case slices.Contains(o.MainPorts, port):
		return ""
	default:
		return "Istio:" + strconv.Itoa(int(port))
	}
}

// istioCertificates resolves a SIMPLE server's credentialName: a
// kubernetes.io/tls Secret in the Gateway's namespace or, as Istio reads
// it, Portico's.
func (t *istioProcessor) istioCertificates(ref ObjectRef, field string, srv *istionet.Server, s *istioServer) []certs.Certificate {
	name := srv.GetTls().GetCredentialName()
	if name == "" {
		t.problem(ref, field+".tls.credentialName", SeverityError, reasonUnresolvedRef,
			"SIMPLE TLS needs credentialName (serverCertificate files are not supported); the default certificate is served")
		return nil
	}
	var hosts []string
	for _, h := range s.hosts {
		if h.host != "*" {
			hosts = append(hosts, h.host)
		}
	}
	for _, ns := range []string{s.gw.Namespace, t.opts.Istio.Namespace} {
		if _, ok := t.secrets[nsName{ns, name}]; !ok || ns == "" {
			continue
		}
		cert, msg, _ := t.secretCertificate(ns, name)
		if cert == nil {
			t.problem(ref, field+".tls.credentialName", SeverityError, reasonUnresolvedRef, msg+"; the default certificate is served")
			return nil
		}
		c := certs.Certificate{Hosts: hosts, Cert: cert, Source: "Secret/" + ns + "/" + name}
		if srv.GetTls().GetMode() == istionet.ServerTLSSettings_MUTUAL {
			t.mutualTLS(ref, field, &c, t.secrets[nsName{ns, name}].Data["ca.crt"])
		}
		return []certs.Certificate{c}
	}
	t.problem(ref, field+".tls.credentialName", SeverityError, reasonUnresolvedRef,
		fmt.Sprintf("Secret %s not found in namespace %s or %s; the default certificate is served", name, s.gw.Namespace, t.opts.Istio.Namespace))
	return nil
}

// routerHost turns a server or VirtualService host into a router host.
func routerHost(h string) (string, router.HostMatch) {
	switch {
	case h == "*":
		return "", router.HostAny
	case strings.HasPrefix(h, "*."):
		return h, router.HostWildcardAnyLabels
	default:
		return h, router.HostExact
	}
}

// mutualTLS requires client certificates signed by the CAs in the
// credential Secret's ca.crt (Istio's MUTUAL mode). Without usable CAs the
// hosts refuse every client rather than accept unverified ones.
func (t *istioProcessor) mutualTLS(ref ObjectRef, field string, c *certs.Certificate, caPEM []byte) {
	c.ClientCASource = c.Source + "#ca.crt"
	pool, err := certs.ParseCAs(caPEM)
	if err != nil {
		t.problem(ref, field+".tls.credentialName", SeverityError, reasonUnresolvedRef, fmt.Sprintf(
			"MUTUAL needs client CAs in key ca.crt of %s: %v; its hosts refuse every connection until it is fixed", c.Source, err))
		pool = x509.NewCertPool()
	}
	c.ClientCAs = pool
	if len(c.Hosts) == 0 {
		t.problem(ref, field+".hosts", SeverityWarning, reasonUnsupportedField,
			"MUTUAL for \"*\": client certificates are required for every host of the port without a certificate of its own, including hosts of other routes sharing the port")
	}
}
