// Command hsload opens TLS connections as fast as it can, each with a full
// handshake (no session resumption), for bench/peers.sh's handshake mode:
//
//	hsload -addr 127.0.0.1:9303 -sni bench.test -c 16 -d 10s
//
// It prints the number of handshakes completed and failed. Certificates are
// not verified: the peers serve a self-signed benchmark certificate. The key
// exchange is X25519, as with an OpenSSL 3.0 client.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:443", "host:port to connect to")
	sni := flag.String("sni", "", "TLS server name")
	conns := flag.Int("c", 16, "concurrent connections")
	dur := flag.Duration("d", 10*time.Second, "how long to run")
	flag.Parse()
	conf := &tls.Config{ServerName: *sni, InsecureSkipVerify: true, //nolint:gosec // a benchmark of the peer's handshake
		MinVersion: tls.VersionTLS13, NextProtos: []string{"http/1.1"},
		// X25519 only: Debian's nginx and HAProxy (OpenSSL 3.0) have no
		// post-quantum key exchange, which Go would otherwise prefer, so
		// every peer does the same handshake.
		CurvePreferences: []tls.CurveID{tls.X25519}}
	var ok, failed atomic.Int64
	deadline := time.Now().Add(*dur)
	var wg sync.WaitGroup
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &net.Dialer{Timeout: 5 * time.Second}
			for time.Now().Before(deadline) {
				c, err := tls.DialWithDialer(d, "tcp", *addr, conf)
				if err != nil {
					failed.Add(1)
					continue
				}
				ok.Add(1)
				_ = c.Close()
			}
		}()
	}
	wg.Wait()
	fmt.Printf("handshakes %d failed %d seconds %.3f\n", ok.Load(), failed.Load(), dur.Seconds())
}
