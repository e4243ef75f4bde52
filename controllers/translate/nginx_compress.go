package translate

import (
	"slices"
	"strconv"
	"strings"

	"github.com/portico-dev/portico/router"
)

// Response compression from the ingress-nginx ConfigMap: use-gzip and
// enable-brotli turn the router's compression on for every route of the
// class, with ingress-nginx's types and minimum length.

// nginxCompressTypes is ingress-nginx's default gzip-types (brotli-types
// adds application/xml+rss); text/html is always compressed by nginx.
const nginxCompressTypes = "application/atom+xml application/javascript application/x-javascript application/json " +
	"application/rss+xml application/vnd.ms-fontobject application/x-font-ttf application/x-web-app-manifest+json " +
	"application/xhtml+xml application/xml font/opentype image/svg+xml image/x-icon text/css text/javascript " +
	"text/plain text/x-component"

// nginxCompression is the router compression the ConfigMap asks for (nil
// when neither use-gzip nor enable-brotli is on).
func nginxCompression(cm map[string]string) *router.Compression {
	on := func(k string) bool { b, err := strconv.ParseBool(strings.TrimSpace(cm[k])); return err == nil && b }
	gz, br := on("use-gzip"), on("enable-brotli")
	if !gz && !br {
		return nil
	}
	c := &router.Compression{MinLength: 256}
	types := map[string]bool{"text/html": true}
	add := func(key string) {
		v, ok := cm[key]
		if !ok {
			v = nginxCompressTypes
		}
		for _, t := range strings.Fields(v) {
			types[strings.ToLower(t)] = true
		}
	}
	if br {
		c.Encodings = append(c.Encodings, router.EncodingBrotli)
		add("brotli-types")
		if n, err := strconv.ParseInt(strings.TrimSpace(cm["brotli-min-length"]), 10, 64); err == nil && n >= 0 && !gz {
			c.MinLength = n
		}
	}
	if gz {
		c.Encodings = append(c.Encodings, router.EncodingGzip)
		add("gzip-types")
		if n, err := strconv.ParseInt(strings.TrimSpace(cm["gzip-min-length"]), 10, 64); err == nil && n >= 0 {
			c.MinLength = n
		}
	}
	if types["*"] {
		c.ContentTypes = []string{"*"}
	} else {
		c.ContentTypes = slices.Sorted(mapKeysBool(types))
	}
	return c
}

func mapKeysBool(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func init() {
	onNginxRoute(910, "compression", func(n *nginxIngress, _ nginxPath, r *router.Route) {
		if r.Compression == nil {
			r.Compression = nginxCompression(n.global)
		}
	})
}
