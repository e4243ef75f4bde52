package translate

import (
	"fmt"
	"slices"
	"strings"
)

// Snippets: ingress-nginx pastes the value of every *-snippet annotation
// into its nginx configuration. Portico never executes raw nginx
// configuration, and serving the Ingress without its snippet could
// silently drop an access rule or a redirect the snippet implemented, so
// an Ingress carrying any snippet is refused. The check is by suffix, so
// snippets of future ingress-nginx releases are refused as well.

// snippetReplacement says what to use instead of each known snippet.
var snippetReplacement = map[string]string{
	"configuration-snippet": "custom headers belong in a Portico TrafficPolicy or the x-forwarded-prefix/upstream-vhost annotations, " +
		"redirects in permanent-redirect/temporal-redirect, access rules in allowlist-source-range or a SecurityPolicy",
	"server-snippet": "per-host redirects belong in permanent-redirect/temporal-redirect/from-to-www-redirect, " +
		"access rules in a SecurityPolicy",
	"auth-snippet":        "external authentication is configured by auth-url and its annotations, or a SecurityPolicy",
	"stream-snippet":      "TCP services are routed by the Gateway API (TCPRoute) or Portico's TCP configuration",
	"modsecurity-snippet": "Portico has no WAF; put one in front of it or in the application",
}

func init() {
	for _, name := range []string{"configuration-snippet", "server-snippet", "auth-snippet", "stream-snippet", "modsecurity-snippet"} {
		registerNginx(NginxAnnotation{Name: name, Support: NginxRefused, Note: "raw nginx configuration is never executed: " +
			"an Ingress carrying it is refused (not served) with an Error naming the annotation; " + snippetReplacement[name] + "."})
	}
	onNginxIngress(0, "snippets", refuseSnippets)
}

// isNginxSnippet reports whether an annotation (without prefix) is a
// snippet of raw nginx configuration.
func isNginxSnippet(name string) bool {
	return strings.HasSuffix(name, "-snippet") || name == "snippet"
}

// refuseSnippets refuses an Ingress that carries any snippet annotation.
func refuseSnippets(n *nginxIngress) {
	var names []string
	for k := range n.ing.Annotations {
		if name, ok := strings.CutPrefix(k, NginxAnnotationPrefix); ok && isNginxSnippet(name) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return
	}
	slices.Sort(names)
	quoted := make([]string, len(names))
	for i, name := range names {
		quoted[i] = fmt.Sprintf("%q", NginxAnnotationPrefix+name)
	}
	instead := snippetReplacement[names[0]]
	if instead == "" {
		instead = "express what the snippet does with the supported annotations or a Portico policy"
	}
	n.refused = fmt.Sprintf("this Ingress is not served: it carries %s; Portico never executes raw nginx configuration, "+
		"and serving the Ingress without it could drop what the snippet enforced; remove the annotation (%s)",
		strings.Join(quoted, ", "), instead)
}
