package harness

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	certs "github.com/portico-dev/portico/tls"
)

// forwardAll accepts connections on ln until it is closed and splices each
// to a connection from dial.
func forwardAll(ln net.Listener, dial func() (net.Conn, error)) {
	for {
		in, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer in.Close()
			out, err := dial()
			if err != nil {
				return
			}
			defer out.Close()
			done := make(chan struct{}, 2)
			cp := func(dst, src net.Conn) {
				_, _ = io.Copy(dst, src)
				if c, ok := dst.(interface{ CloseWrite() error }); ok {
					_ = c.CloseWrite()
				}
				done <- struct{}{}
			}
			go cp(out, in)
			go cp(in, out)
			<-done
			<-done
		}()
	}
}

// serveLogs serves /containerLogs/<ns>/<pod>/<container> over HTTPS on a
// loopback port, as a kubelet does for `kubectl logs`, until ctx ends.
func (r *PodRunner) serveLogs(ctx context.Context) (int, error) {
	cert, err := certs.SelfSigned("localhost")
	if err != nil {
		return 0, err
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{*cert}})
	if err != nil {
		return 0, err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		parts := strings.Split(strings.TrimPrefix(req.URL.Path, "/containerLogs/"), "/")
		if len(parts) != 3 {
			http.NotFound(w, req)
			return
		}
		path := r.logPath(parts[0], parts[1], parts[2])
		if path == "" {
			http.NotFound(w, req)
			return
		}
		data, err := os.ReadFile(path)
		if err != nil {
			http.NotFound(w, req)
			return
		}
		if n, err := strconv.Atoi(req.URL.Query().Get("tailLines")); err == nil && n >= 0 {
			lines := strings.SplitAfter(string(data), "\n")
			if len(lines) > 0 && lines[len(lines)-1] == "" {
				lines = lines[:len(lines)-1]
			}
			data = []byte(strings.Join(lines[max(0, len(lines)-n):], ""))
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(data)
	})}
	go func() { _ = srv.Serve(ln) }()
	go func() { <-ctx.Done(); srv.Close() }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// logPath finds the log file of a running pod's container.
func (r *PodRunner) logPath(ns, pod, name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rp := range r.pods {
		if rp.namespace == ns && rp.name == pod {
			return filepath.Join(rp.dir, name+".log")
		}
	}
	return ""
}
