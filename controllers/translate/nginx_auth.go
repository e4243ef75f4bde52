package translate

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/portico-dev/portico/router"
)

// ingress-nginx's basic authentication: auth-type basic with an htpasswd
// Secret. Every way it can go wrong (digest, no Secret, an unreadable
// file) fails closed.

func init() {
	registerNginx(
		NginxAnnotation{Name: "auth-type", Support: NginxDifferent,
			Note: "\"basic\" is supported; \"digest\" is not, and an Ingress asking for it has its routes answer 503 (never served " +
				"unauthenticated), as ingress-nginx answers for an unusable auth configuration."},
		NginxAnnotation{Name: "auth-secret", Support: NginxDifferent,
			Note: "namespace/name or name. A Secret in another namespace is refused unless the ConfigMap sets " +
				"allow-cross-namespace-resources: \"true\". A missing Secret or key makes the routes answer 503, as ingress-nginx."},
		NginxAnnotation{Name: "auth-secret-type", Support: NginxDifferent, Default: "auth-file",
			Note: "auth-file: the htpasswd lines in the key auth; auth-map: each key a user, its value the hash. Accepted hashes: " +
				"apr1 MD5, {SHA}, {SSHA}, crypt SHA-256/512 and bcrypt; DES crypt and plain-text entries are refused (the routes answer 503)."},
		NginxAnnotation{Name: "auth-realm", Support: NginxSupported,
			Note: "The realm of the WWW-Authenticate challenge (Portico's default when unset: \"Restricted\")."},
	)
	onNginxIngress(110, "auth-basic", nginxBasicAuth)
}

// nginxBasicAuth reads auth-type basic and its Secret.
func nginxBasicAuth(n *nginxIngress) {
	if n.canary != nil {
		return
	}
	at, ok := n.value("auth-type")
	if !ok {
		return
	}
	switch at {
	case "basic":
	case "digest":
		n.failClosed("auth-type", "UnsupportedAnnotation", "digest authentication is not supported")
		return
	default:
		n.failClosed("auth-type", "InvalidAnnotation", "auth-type must be basic or digest, not "+quote(at))
		return
	}
	ref, ok := n.value("auth-secret")
	if !ok || ref == "" {
		n.failClosed("auth-secret", "InvalidAnnotation", "auth-type basic needs auth-secret")
		return
	}
	ns, name, ok := n.secretRef(ref)
	if !ok {
		n.failClosed("auth-secret", "InvalidAnnotation", "auth-secret "+quote(ref)+" is not a Secret name")
		return
	}
	if ns != n.ing.Namespace && n.global["allow-cross-namespace-resources"] != "true" {
		n.failClosed("auth-secret", "InvalidAnnotation", "auth-secret names a Secret in another namespace, which the ConfigMap "+
			"does not allow (allow-cross-namespace-resources)")
		return
	}
	s := n.t.secret(nsName{ns, name})
	if s == nil {
		n.failClosed("auth-secret", reasonSecretNotFound, "Secret "+ns+"/"+name+" not found")
		return
	}
	data := map[string]string{}
	for k, v := range s.Data {
		data[k] = string(v)
	}
	for k, v := range s.StringData {
		data[k] = v
	}
	var lines string
	switch st, _ := n.value("auth-secret-type"); st {
	case "", "auth-file":
		v, ok := data["auth"]
		if !ok {
			n.failClosed("auth-secret", "InvalidSecret", "Secret "+ns+"/"+name+" has no key auth")
			return
		}
		lines = v
	case "auth-map":
		var b strings.Builder
		for _, user := range slices.Sorted(maps.Keys(data)) {
			b.WriteString(user + ":" + strings.TrimSpace(data[user]) + "\n")
		}
		lines = b.String()
	default:
		n.failClosed("auth-secret-type", "InvalidAnnotation", "auth-secret-type must be auth-file or auth-map, not "+quote(st))
		return
	}
	realm, _ := n.value("auth-realm")
	n.pol().p.BasicAuth = &router.BasicAuth{Htpasswd: lines, Realm: realm, StripAuthorization: true}
}

// secretRef splits "namespace/name" or "name" (in the Ingress's
// namespace).
func (n *nginxIngress) secretRef(ref string) (string, string, bool) {
	return nginxSecretRef(n.ing, ref)
}

func nginxSecretRef(ing *networkingv1.Ingress, ref string) (string, string, bool) {
	ns, name, found := strings.Cut(ref, "/")
	if !found {
		ns, name = ing.Namespace, ref
	}
	if ns == "" || name == "" || strings.Contains(name, "/") || !isDNSName(name) || !isDNSName(ns) {
		return "", "", false
	}
	return ns, name, true
}

// NginxSecretRefs lists the Secrets an ingress-nginx Ingress's
// annotations name (auth-secret, proxy-ssl-secret), as namespace and
// name, for the controller to read outside its TLS-only cache.
func NginxSecretRefs(ing *networkingv1.Ingress) [][2]string {
	var out [][2]string
	for _, a := range []string{"auth-secret", "proxy-ssl-secret"} {
		v, ok := ing.Annotations[NginxAnnotationPrefix+a]
		if !ok {
			continue
		}
		if ns, name, ok := nginxSecretRef(ing, strings.TrimSpace(v)); ok {
			out = append(out, [2]string{ns, name})
		}
	}
	return out
}

func quote(s string) string { return strconv.Quote(s) }
