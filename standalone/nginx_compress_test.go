package standalone

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestNginxCompression: the ConfigMap's use-gzip compresses responses of
// gzip-types from gzip-min-length bytes, as ingress-nginx does; other
// types, short bodies and clients that do not accept gzip get the body
// as sent.
func TestNginxCompression(t *testing.T) {
	text := strings.Repeat("portico ", 100) // 800 bytes
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/short":
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "tiny")
		case "/png":
			w.Header().Set("Content-Type", "image/png")
			_, _ = io.WriteString(w, text)
		default:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, text)
		}
	}))
	t.Cleanup(s.Close)
	manifests := nginxService("app", s.Listener.Addr().String()) +
		nginxIngressYAML("app", "gz.test", "/", "app", nil)
	addr := nginxRun(t, manifests, map[string]string{"use-gzip": "true"}, "gz.test")

	cases := []struct {
		path, accept string
		gzipped      bool
	}{
		{"/", "gzip", true},
		{"/", "br;q=1, gzip;q=0.5", true}, // brotli is off: gzip
		{"/", "", false},
		{"/", "gzip;q=0", false},
		{"/short", "gzip", false}, // under gzip-min-length (256)
		{"/png", "gzip", false},   // not in gzip-types
	}
	for _, c := range cases {
		name := fmt.Sprintf("%s accept %q", c.path, c.accept)
		h := map[string]string{}
		if c.accept != "" {
			h["Accept-Encoding"] = c.accept
		}
		code, hdr, body := send(t, addr, "GET", "gz.test", c.path, h, "")
		if code != 200 {
			t.Fatalf("%s: status %d", name, code)
		}
		if got := hdr.Get("Content-Encoding") == "gzip"; got != c.gzipped {
			t.Errorf("%s: Content-Encoding %q, want gzip %v", name, hdr.Get("Content-Encoding"), c.gzipped)
			continue
		}
		if !c.gzipped {
			continue
		}
		zr, err := gzip.NewReader(strings.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil || string(plain) != text {
			t.Errorf("%s: decompressed %d bytes (%v), want the %d sent", name, len(plain), err, len(text))
		}
		if !strings.Contains(hdr.Get("Vary"), "Accept-Encoding") {
			t.Errorf("%s: Vary %q", name, hdr.Get("Vary"))
		}
	}
}
