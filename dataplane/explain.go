package dataplane

import (
	"crypto/tls"
	"net"

	"github.com/portico-dev/portico/router"
)

// Admission says what the certificate policy of a listener ("" for the
// shared listeners) answers a request for host arriving over TLS with
// server name sni, or over cleartext: 0 to serve it, else the status the
// Router answers (see router.CertChecker). The connection presents no
// client certificate. For explain and the dashboard.
func (d *Dataplane) Admission(listener string, overTLS bool, sni, host string) int {
	var cs *tls.ConnectionState
	if overTLS {
		cs = &tls.ConnectionState{ServerName: sni}
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return admitter{d}.Admit(listener, cs, host)
}

// ListenerTLS reports whether a Gateway listener's connections are TLS
// (terminated or passed through); false for HTTP and TCP ports.
func (d *Dataplane) ListenerTLS(key string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.listenerCerts[key]; ok {
		return true
	}
	k, ok := d.listenerKinds[key]
	return ok && k != router.ListenerHTTP && k != router.ListenerTCP
}
