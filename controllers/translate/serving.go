package translate

import (
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portico-dev/portico/router"
	"github.com/portico-dev/portico/serving"
)

// Serving is the part of the result the data plane serves, in the data
// plane's own terms (no API types).
func (r *Result) Serving() *serving.Model {
	m := &serving.Model{Config: r.Config, Certificates: r.Certificates, DefaultCertificate: r.DefaultCertificate}
	for _, h := range r.ACMEHosts {
		m.ACMEHosts = append(m.ACMEHosts, serving.ACMEHost{Hosts: h.Hosts, Source: h.Source.String()})
	}
	for _, l := range r.GatewayListeners {
		m.Listeners = append(m.Listeners, serving.Listener{Key: l.Key, Kind: listenerKind(l.Protocol, l.TLS),
			TLS: l.TLS, Certificates: l.Certificates, Hostnames: l.Hostnames, ProxyProtocol: l.ProxyProtocol})
	}
	return m
}

// listenerKind is what a port of protocol p does (Istio servers are
// described in Gateway API protocols too).
func listenerKind(p gatewayv1.ProtocolType, terminates bool) router.ListenerKind {
	switch p {
	case gatewayv1.TLSProtocolType:
		if terminates {
			return router.ListenerTLSTerminate
		}
		return router.ListenerTLSPassthrough
	case gatewayv1.TCPProtocolType:
		return router.ListenerTCP
	}
	return router.ListenerHTTP
}
