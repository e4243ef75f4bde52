package translate

// The ingress-nginx ConfigMap keys Portico documents (see
// nginx_global.go). Defaults are ingress-nginx's, from its ConfigMap
// documentation.

const notFromConfigMap = "not read from the ConfigMap: "

func registerNginxConfigKeys() {
	registerNginxConfig(
		// HSTS (nginx_global.go).
		NginxConfigKey{Name: "hsts", Support: NginxDifferent, Default: "true",
			Note: "Strict-Transport-Security is added to HTTPS responses of the hosts the Ingress itself lists in spec.tls " +
				"(ingress-nginx: of any host with a certificate, also one listed by another Ingress); portico.dev/hsts on the Ingress wins"},
		NginxConfigKey{Name: "hsts-max-age", Support: NginxSupported, Default: "31536000"},
		NginxConfigKey{Name: "hsts-include-subdomains", Support: NginxSupported, Default: "true"},
		NginxConfigKey{Name: "hsts-preload", Support: NginxSupported, Default: "false"},

		// Client addresses and forwarding headers: Portico's
		// --trusted-proxies decides, for every class alike.
		NginxConfigKey{Name: "use-forwarded-headers", Support: NginxDifferent, Default: "false",
			Note: "\"true\": the X-Forwarded-Proto of a peer in --trusted-proxies is the request's scheme for ssl-redirect and force-ssl-redirect " +
				"(redirected only when it says http), on ingress-nginx Ingresses. Which peers are trusted is --trusted-proxies (set it to the " +
				"load balancer's CIDRs, the proxy-real-ip-cidr value), never every address; X-Forwarded-For and -Host of those peers are kept " +
				"whatever the value, and from any other peer they are replaced"},
		NginxConfigKey{Name: "compute-full-forwarded-for", Support: NginxDifferent, Default: "false",
			Note: notFromConfigMap + "from a peer in --trusted-proxies Portico always appends the peer to X-Forwarded-For " +
				"(as with true); from any other peer it replaces the header"},
		NginxConfigKey{Name: "forwarded-for-header", Support: NginxUnsupported, Default: "X-Forwarded-For",
			Note: "Portico reads and writes X-Forwarded-For only"},
		NginxConfigKey{Name: "proxy-real-ip-cidr", Support: NginxUnsupported, Default: "0.0.0.0/0",
			Note: notFromConfigMap + "list the proxies in --trusted-proxies; Portico never trusts every address by default"},
		NginxConfigKey{Name: "enable-real-ip", Support: NginxUnsupported, Default: "false",
			Note: notFromConfigMap + "the client address comes from X-Forwarded-For of peers in --trusted-proxies"},
		NginxConfigKey{Name: "use-proxy-protocol", Support: NginxUnsupported, Default: "false",
			Note: "not read from the ConfigMap: start Portico with --proxy-protocol-from set to the load balancer's CIDRs (PROXY v1 and v2 then required on every client-facing listener)"},

		// Compression.
		NginxConfigKey{Name: "use-gzip", Support: NginxSupported, Default: "false",
			Note: "gzip of responses of the types in gzip-types (and text/html), from gzip-min-length bytes (256); " +
				"also skipped for HEAD, ranges, 204/206/304, an existing Content-Encoding and Cache-Control: no-transform"},
		NginxConfigKey{Name: "gzip-level", Support: NginxDifferent, Default: "1",
			Note: "Portico compresses at its own fixed level (fast); the value is not read"},
		NginxConfigKey{Name: "gzip-min-length", Support: NginxSupported, Default: "256"},
		NginxConfigKey{Name: "gzip-types", Support: NginxSupported, Note: "\"*\" compresses every type but already compressed ones"},
		NginxConfigKey{Name: "gzip-disable", Support: NginxUnsupported, Note: "responses are compressed whatever the User-Agent"},
		NginxConfigKey{Name: "enable-brotli", Support: NginxDifferent, Default: "false",
			Note: "brotli, preferred over gzip when the client accepts both (as nginx); with use-gzip on too, " +
				"one type list (brotli-types and gzip-types together) and gzip-min-length apply to both"},
		NginxConfigKey{Name: "brotli-level", Support: NginxDifferent, Default: "4",
			Note: "Portico compresses at its own fixed level; the value is not read"},
		NginxConfigKey{Name: "brotli-min-length", Support: NginxSupported, Default: "20"},
		NginxConfigKey{Name: "brotli-types", Support: NginxSupported},

		// Snippets.
		NginxConfigKey{Name: "allow-snippet-annotations", Support: NginxDifferent, Default: "false",
			Note: "Portico never executes nginx configuration: an Ingress with a snippet annotation is refused whatever the value"},
		NginxConfigKey{Name: "annotations-risk-level", Support: NginxDifferent, Default: "High",
			Note: "snippets (Critical) are always refused; every other annotation is honoured whatever the level"},

		// TLS.
		NginxConfigKey{Name: "ssl-protocols", Support: NginxUnsupported, Default: "TLSv1.2 TLSv1.3",
			Note: "Portico serves TLS 1.2 and 1.3, always"},
		NginxConfigKey{Name: "no-tls-redirect-locations", Support: NginxDifferent, Default: "/.well-known/acme-challenge",
			Note: "ACME HTTP-01 challenges Portico answers itself are never redirected; other paths cannot be listed"},

		// Defaults of annotations: honoured by the annotation's hook,
		// which reads the key when the annotation is absent.
		NginxConfigKey{Name: "proxy-body-size", Default: "1m", Annotation: "proxy-body-size"},
		NginxConfigKey{Name: "ssl-redirect", Default: "true", Annotation: "ssl-redirect"},
		NginxConfigKey{Name: "force-ssl-redirect", Default: "false", Annotation: "force-ssl-redirect"},
		NginxConfigKey{Name: "proxy-connect-timeout", Default: "5", Annotation: "proxy-connect-timeout"},
		NginxConfigKey{Name: "proxy-read-timeout", Default: "60", Annotation: "proxy-read-timeout"},
		NginxConfigKey{Name: "proxy-send-timeout", Default: "60", Annotation: "proxy-send-timeout"},
		NginxConfigKey{Name: "proxy-next-upstream", Default: "error timeout", Annotation: "proxy-next-upstream"},
		NginxConfigKey{Name: "proxy-next-upstream-tries", Default: "3", Annotation: "proxy-next-upstream-tries"},
		NginxConfigKey{Name: "proxy-next-upstream-timeout", Default: "0", Annotation: "proxy-next-upstream-timeout"},
		NginxConfigKey{Name: "proxy-buffering", Default: "off", Annotation: "proxy-buffering"},
		NginxConfigKey{Name: "proxy-request-buffering", Default: "on", Annotation: "proxy-request-buffering"},
		NginxConfigKey{Name: "client-body-buffer-size", Default: "8k", Annotation: "client-body-buffer-size"},
		NginxConfigKey{Name: "custom-http-errors", Annotation: "custom-http-errors"},
		NginxConfigKey{Name: "whitelist-source-range", Annotation: "whitelist-source-range"},
		NginxConfigKey{Name: "denylist-source-range", Annotation: "denylist-source-range"},
		NginxConfigKey{Name: "limit-req-status-code", Default: "503", Annotation: "limit-rps"},
		NginxConfigKey{Name: "limit-conn-status-code", Default: "503", Annotation: "limit-connections"},
		NginxConfigKey{Name: "load-balance", Default: "round_robin", Annotation: "load-balance"},
		NginxConfigKey{Name: "upstream-hash-by", Annotation: "upstream-hash-by"},

		// Global features Portico does not have.
		NginxConfigKey{Name: "global-auth-url", Support: NginxUnsupported,
			Note: "no global external authentication; put auth-url on each Ingress or attach a SecurityPolicy"},
		NginxConfigKey{Name: "block-cidrs", Support: NginxUnsupported,
			Note: "no global deny list; use denylist-source-range per Ingress or an authorization policy"},
		NginxConfigKey{Name: "enable-opentelemetry", Support: NginxDifferent, Default: "false",
			Note: notFromConfigMap + "Portico's tracing is configured by its --otel-* flags"},
	)
}
