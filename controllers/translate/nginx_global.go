package translate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/portico-dev/portico/router"
)

// ingress-nginx's controller ConfigMap (NginxOptions.ConfigMap): the keys
// that change routing for every Ingress of its class. Keys that are the
// default of an annotation (proxy-body-size, ssl-redirect, ...) are read
// by that annotation's hook from nginxIngress.global; this file documents
// every key Portico knows in a registry of its own, and implements the
// keys no annotation covers (HSTS).

// NginxConfigKey documents one key of ingress-nginx's controller
// ConfigMap.
type NginxConfigKey struct {
	// Name is the ConfigMap key.
	Name    string       `json:"name"`
	Support NginxSupport `json:"support"`
	// Default is ingress-nginx's default value, when it has one.
	Default string `json:"default,omitempty"`
	// Annotation, when set, is the annotation (without prefix) whose
	// default the key is; its support is then the annotation's.
	Annotation string `json:"annotation,omitempty"`
	// Note states the difference, or why it is not honoured.
	Note string `json:"note,omitempty"`
}

// nginxConfigRegistry holds every ConfigMap key Portico knows, by Name.
var nginxConfigRegistry = map[string]NginxConfigKey{}

// registerNginxConfig adds ConfigMap keys to the registry (from init
// functions).
func registerNginxConfig(ks ...NginxConfigKey) {
	for _, k := range ks {
		if _, dup := nginxConfigRegistry[k.Name]; dup {
			panic("ingress-nginx ConfigMap key registered twice: " + k.Name)
		}
		nginxConfigRegistry[k.Name] = k
	}
}

// NginxConfigKeys lists the registered ConfigMap keys by name. A key that
// is the default of an annotation takes the annotation's support when the
// annotation is registered (unsupported otherwise: nothing reads it).
func NginxConfigKeys() []NginxConfigKey {
	out := make([]NginxConfigKey, 0, len(nginxConfigRegistry))
	for _, k := range nginxConfigRegistry {
		out = append(out, resolveConfigKey(k))
	}
	slices.SortFunc(out, func(a, b NginxConfigKey) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// LookupNginxConfigKey returns the registry entry of a ConfigMap key.
func LookupNginxConfigKey(name string) (NginxConfigKey, bool) {
	k, ok := nginxConfigRegistry[name]
	if !ok {
		return k, false
	}
	return resolveConfigKey(k), true
}

func resolveConfigKey(k NginxConfigKey) NginxConfigKey {
	if k.Annotation == "" {
		return k
	}
	a, ok := nginxRegistry[k.Annotation]
	switch {
	case !ok:
		k.Support = NginxUnsupported
		k.Note = fmt.Sprintf("the default of annotation %s, which Portico does not honour yet", k.Annotation)
	case a.Support == NginxSupported || a.Support == NginxDifferent:
		k.Support = a.Support
		k.Note = "honoured as the default of annotation " + k.Annotation
		if a.Support == NginxDifferent && a.Note != "" {
			k.Note += " (" + a.Note + ")"
		}
	default:
		k.Support = a.Support
		k.Note = "the default of annotation " + k.Annotation + ", which is " + string(a.Support)
		if a.Note != "" {
			k.Note += ": " + a.Note
		}
	}
	return k
}

// NginxConfigFindings says, for each key of a ConfigMap's data, what
// Portico makes of it: keys that are not honoured or are unknown, and
// values that are not valid. Keys honoured as documented, and keys set to
// ingress-nginx's default, are left out. The Problems name no object.
func NginxConfigFindings(data map[string]string) []Problem {
	var out []Problem
	for _, name := range slices.Sorted(mapKeys(data)) {
		field := "data[" + name + "]"
		k, ok := LookupNginxConfigKey(name)
		switch {
		case !ok:
			out = append(out, Problem{Field: field, Severity: SeverityWarning, Reason: "UnsupportedConfigKey",
				Message: fmt.Sprintf("ingress-nginx ConfigMap key %q is not known to Portico and is ignored", name)})
			continue
		case k.Default != "" && strings.TrimSpace(data[name]) == k.Default:
			continue // ingress-nginx's default: nothing changes
		case k.Support == NginxUnsupported || k.Support == NginxRefused:
			out = append(out, Problem{Field: field, Severity: SeverityWarning, Reason: "UnsupportedConfigKey",
				Message: fmt.Sprintf("ingress-nginx ConfigMap key %q is %s: %s", name, k.Support, k.Note)})
			continue
		}
		if msg := validConfigValue(name, data[name]); msg != "" {
			out = append(out, Problem{Field: field, Severity: SeverityError, Reason: "InvalidConfigValue", Message: msg})
		}
	}
	return out
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// validConfigValue checks the values of the keys this file implements.
func validConfigValue(name, v string) string {
	switch name {
	case "hsts", "hsts-include-subdomains", "hsts-preload":
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Sprintf("%s: %q is not a boolean; ingress-nginx's default is used", name, v)
		}
	case "hsts-max-age":
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err != nil || n < 0 {
			return fmt.Sprintf("hsts-max-age: %q is not a number of seconds; the default 31536000 is used", v)
		}
	}
	return ""
}

// nginxHSTS is the Strict-Transport-Security value the ConfigMap asks for
// ("" when hsts is off), with ingress-nginx's defaults: on, one year,
// includeSubDomains, no preload. Invalid values fall back to the default
// (NginxConfigFindings reports them).
func nginxHSTS(cm map[string]string) string {
	flag := func(key string, def bool) bool {
		if v, ok := cm[key]; ok {
			if b, err := strconv.ParseBool(v); err == nil {
				return b
			}
		}
		return def
	}
	if !flag("hsts", true) {
		return ""
	}
	maxAge := defaultHSTSMaxAge
	if v, ok := cm["hsts-max-age"]; ok {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
			maxAge = n
		}
	}
	out := "max-age=" + strconv.Itoa(maxAge)
	if flag("hsts-include-subdomains", true) {
		out += "; includeSubDomains"
	}
	if flag("hsts-preload", false) {
		out += "; preload"
	}
	return out
}

// tlsHost reports whether the Ingress names the host of rule ri in
// spec.tls: only such hosts have a certificate configured, which is when
// ingress-nginx adds its HSTS header.
func (n *nginxIngress) tlsHost(ri int) bool {
	if ri < 0 || ri >= len(n.ing.Spec.Rules) || n.ing.Spec.Rules[ri].Host == "" {
		return false
	}
	host := n.ing.Spec.Rules[ri].Host
	for _, t := range n.ing.Spec.TLS {
		for _, h := range t.Hosts {
			if strings.EqualFold(h, host) {
				return true
			}
		}
	}
	return false
}

func init() {
	onNginxRoute(900, "hsts", func(n *nginxIngress, p nginxPath, r *router.Route) {
		if r.HSTS != "" || !n.tlsHost(p.rule) {
			return // portico.dev/hsts set it, or no certificate for the host
		}
		r.HSTS = nginxHSTS(n.global)
	})
	registerNginxConfigKeys()
}
