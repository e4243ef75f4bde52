package router

import (
	"net/http"
	"time"
)

// Edge limits applied to every client-facing server.
const (
	ReadHeaderTimeout    = 10 * time.Second
	IdleTimeout          = 120 * time.Second
	MaxHeaderBytes       = 64 << 10
	MaxConcurrentStreams = 250
)

// NewEdgeServer returns an http.Server for client traffic with Portico's edge
// defaults: a read-header timeout, an idle timeout, a 64 KiB header limit
// (larger headers get 431), and bounded HTTP/2 streams. Cleartext servers
// also accept HTTP/2 with prior knowledge (h2c), for gRPC clients.
func NewEdgeServer(h http.Handler, cleartext bool) *http.Server {
	s := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: MaxConcurrentStreams,
			MaxReadFrameSize:     1 << 20,
		},
		Protocols: new(http.Protocols),
	}
	s.Protocols.SetHTTP1(true)
	if cleartext {
		s.Protocols.SetUnencryptedHTTP2(true)
	} else {
		s.Protocols.SetHTTP2(true)
	}
	return s
}
