package translate_test

import (
	"testing"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/standalone"
)

const hstsInput = `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: k8s.io/ingress-nginx}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: default}
spec:
  ingressClassName: nginx
  tls: [{hosts: [secure.example.com]}]
  rules:
  - host: secure.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {name: http}}}}]}
  - host: plain.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {name: http}}}}]}
`

// TestNginxHSTS follows ingress-nginx's ConfigMap documentation: hsts on
// by default (max-age 31536000, includeSubDomains, no preload), on hosts
// with a certificate only; the hsts-* keys change it.
func TestNginxHSTS(t *testing.T) {
	snap := nginxGlobalSnapshot(t, hstsInput)
	for _, tc := range []struct {
		name string
		cm   map[string]string
		want string
	}{
		{"defaults", nil, "max-age=31536000; includeSubDomains"},
		{"tuned", map[string]string{"hsts-max-age": "63072000", "hsts-preload": "true", "hsts-include-subdomains": "false"}, "max-age=63072000; preload"},
		{"off", map[string]string{"hsts": "false"}, ""},
		{"invalid max-age keeps the default", map[string]string{"hsts-max-age": "a year"}, "max-age=31536000; includeSubDomains"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOptions
			opts.Nginx = &translate.NginxOptions{ConfigMap: tc.cm}
			res := translate.Translate(snap, opts)
			got := map[string]string{}
			for _, r := range res.Config.Routes {
				got[r.Host] = r.HSTS
			}
			if got["secure.example.com"] != tc.want || got["plain.example.com"] != "" {
				t.Fatalf("HSTS %q", got)
			}
		})
	}
}

func TestNginxConfigRegistry(t *testing.T) {
	keys := translate.NginxConfigKeys()
	if len(keys) < 30 {
		t.Fatalf("%d ConfigMap keys registered", len(keys))
	}
	for _, k := range keys {
		if k.Support == "" || k.Support != translate.NginxSupported && k.Note == "" {
			t.Errorf("key %s: support %q without a note", k.Name, k.Support)
		}
	}
	if k, ok := translate.LookupNginxConfigKey("proxy-body-size"); !ok || k.Annotation != "proxy-body-size" {
		t.Errorf("proxy-body-size: %+v", k)
	}
	ps := translate.NginxConfigFindings(map[string]string{
		"use-proxy-protocol": "true", "use-forwarded-headers": "false", "hsts-max-age": "x", "hsts": "true", "made-up": "1",
	})
	reasons := map[string]string{}
	for _, p := range ps {
		reasons[p.Field] = p.Reason
	}
	want := map[string]string{"data[use-proxy-protocol]": "UnsupportedConfigKey", "data[hsts-max-age]": "InvalidConfigValue",
		"data[made-up]": "UnsupportedConfigKey"}
	if len(reasons) != len(want) {
		t.Fatalf("findings %+v", ps)
	}
	for f, r := range want {
		if reasons[f] != r {
			t.Errorf("%s: %q, want %q (%+v)", f, reasons[f], r, ps)
		}
	}
}

func nginxGlobalSnapshot(t *testing.T, doc string) *translate.Snapshot {
	t.Helper()
	objs, _, err := standalone.Parse("input.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var s translate.Snapshot
	standalone.AddToSnapshot(&s, objs)
	return &s
}
