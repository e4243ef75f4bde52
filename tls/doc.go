// Package certs owns Portico's TLS material for client-facing listeners:
// the server tls.Config with safe defaults and the self-signed fallback
// certificate served when no other certificate applies. It imports no
// Kubernetes packages.
package certs
