package translate

import (
	"fmt"
	"strconv"
	"strings"
)

// Routing annotations of ingress-nginx: the helpers they share to read
// values with ingress-nginx's parsing, and the annotations that are
// accepted without changing anything in Portico.

func init() {
	registerNginx(
		NginxAnnotation{Name: "proxy-buffering", Support: NginxDifferent, Default: "off",
			Note: "Portico always streams responses to the client as they arrive (ingress-nginx's default \"off\"); \"on\" is accepted and has no effect."},
		NginxAnnotation{Name: "proxy-request-buffering", Support: NginxDifferent, Default: "on",
			Note: "Portico streams request bodies to the backend (the behaviour of \"off\"); with \"on\" ingress-nginx reads the whole body first, Portico does not, so a backend sees a slow client's body as it arrives."},
		NginxAnnotation{Name: "client-body-buffer-size", Support: NginxDifferent,
			Note: "accepted and validated (a size such as 8k or 1m) with no effect: Portico never spools request bodies to disk."},
		NginxAnnotation{Name: "enable-rewrite-log", Support: NginxDifferent, Default: "false",
			Note: "accepted with no effect: Portico has no rewrite log; `portico routes` shows each route's rewrite."},
	)
	onNginxIngress(50, "accepted", func(n *nginxIngress) {
		n.routingBool("proxy-buffering", false, "on", "off")
		n.routingBool("proxy-request-buffering", true, "on", "off")
		n.routingBool("enable-rewrite-log", false, "true", "false")
		if v, ok := n.value("client-body-buffer-size"); ok && !isNginxSize(v) {
			n.problem("client-body-buffer-size", SeverityError, reasonInvalidAnnotation, fmt.Sprintf(
				"%q is not an nginx size (digits with an optional k, m or g suffix); it has no effect in Portico anyway", v))
		}
	})
}

// routingBool reads a boolean annotation spelled yes/no (such as "true" and
// "false", or "on" and "off"); an invalid value is an Error and def is
// used, as ingress-nginx falls back to its default.
func (n *nginxIngress) routingBool(name string, def bool, yes, no string) bool {
	v, ok := n.value(name)
	if !ok {
		return def
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case yes:
		return true
	case no:
		return false
	}
	if yes == "true" {
		if b, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil {
			return b
		}
	}
	n.problem(name, SeverityError, reasonInvalidAnnotation, fmt.Sprintf("%q: want %q or %q; using the default %q",
		v, yes, no, map[bool]string{true: yes, false: no}[def]))
	return def
}

// globalBool reads a boolean key of the controller ConfigMap.
func (n *nginxIngress) globalBool(key string, def bool) bool {
	v, ok := n.global[key]
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return def
	}
	return b
}

// routingInt reads an integer annotation, else the ConfigMap key global
// (when not ""), else def; an invalid value is an Error and the fallback
// is used.
func (n *nginxIngress) routingInt(name, global string, def int) int {
	if global != "" {
		if v, ok := n.global[global]; ok {
			if i, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				def = i
			}
		}
	}
	v, ok := n.value(name)
	if !ok {
		return def
	}
	i, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		n.problem(name, SeverityError, reasonInvalidAnnotation, fmt.Sprintf("%q is not an integer; using %d", v, def))
		return def
	}
	return i
}

// isNginxSize reports whether v is a size as nginx reads it: digits with
// an optional b, k, m or g suffix (any case).
func isNginxSize(v string) bool {
	v = strings.TrimSpace(v)
	if v == "" {
		return false
	}
	if c := v[len(v)-1] | 0x20; c == 'b' || c == 'k' || c == 'm' || c == 'g' {
		v = v[:len(v)-1]
	}
	_, err := strconv.ParseUint(v, 10, 63)
	return err == nil
}
