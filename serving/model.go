package serving

import (
	"github.com/portico-dev/portico/router"
	certs "github.com/portico-dev/portico/tls"
)

// Model is one complete serving configuration: everything the data plane
// needs to swap in together (certificates before the routes that use them).
type Model struct {
	// Config is the routing configuration, compiled into a router.Table.
	Config router.Config
	// Certificates are served by SNI on the shared HTTPS listener.
	Certificates []certs.Certificate
	// DefaultCertificate, when set, replaces the generated default
	// certificate for unknown or missing SNI.
	DefaultCertificate *certs.Certificate
	// ACMEHosts are host sets whose certificates come from the ACME CA.
	ACMEHosts []ACMEHost
	// Listeners are the client-facing listeners of Gateways (Gateway API
	// and Istio), by key.
	Listeners []Listener
}

// ACMEHost is a set of hosts served by one ACME-managed certificate.
type ACMEHost struct {
	Hosts []string
	// Source names the object that asked for it, e.g. "Ingress/ns/name".
	Source string
}

// Listener is one port of a gateway object.
type Listener struct {
	// Key is router.ListenerKey of the port; routes name it.
	Key string
	// Kind is what the port does with its connections.
	Kind router.ListenerKind
	// TLS says the port terminates TLS with Certificates: by host, and one
	// without hosts as the port's default (a certificate without hosts
	// that has client CAs requires client certificates port-wide).
	TLS          bool
	Certificates []certs.Certificate
	// Hostnames are the hostnames of the HTTPS listeners sharing the port
	// ("" for one without a hostname). A request whose Host selects
	// another of them than its connection's SNI is misdirected (421): the
	// Gateway API's rule for HTTPS listeners.
	Hostnames []string
	// ProxyProtocol, set by a policy on the Gateway or its listener,
	// requires a PROXY header on the port's connections; nil leaves the
	// process-wide setting (--proxy-protocol-from).
	ProxyProtocol *router.ProxyProtocol
}
