package translate_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/portico-dev/portico/controllers/translate"
)

// TestNginxPolicyGolden translates testdata/nginx-policy/NAME.in.yaml
// with ingress-nginx compatibility on (the ConfigMap of the test) and
// compares the result with NAME.out.yaml (-update rewrites it).
func TestNginxPolicyGolden(t *testing.T) {
	ins, _ := filepath.Glob("testdata/nginx-policy/*.in.yaml")
	if len(ins) == 0 {
		t.Fatal("no golden inputs")
	}
	opts := testOptions
	opts.Nginx = &translate.NginxOptions{ConfigMap: map[string]string{"use-forwarded-headers": "true",
		"proxy-real-ip-cidr": "172.16.0.0/12", "limit-req-status-code": "429"}}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			res := translate.Translate(loadSnapshot(t, in), opts)
			got, err := yaml.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			out := strings.TrimSuffix(in, ".in.yaml") + ".out.yaml"
			if *update {
				if err := os.WriteFile(out, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("%v (run go test ./controllers/translate -update)", err)
			}
			if string(got) != string(want) {
				t.Errorf("translation of %s differs from %s (run with -update and review the diff):\n%s", in, out, got)
			}
		})
	}
}

// TestNginxPolicyRegistry: every annotation of this part is registered
// with a note.
func TestNginxPolicyRegistry(t *testing.T) {
	for _, name := range []string{"proxy-body-size", "whitelist-source-range", "allowlist-source-range", "denylist-source-range",
		"auth-type", "auth-secret", "auth-secret-type", "auth-realm", "auth-url", "auth-method", "auth-signin",
		"auth-signin-redirect-param", "auth-response-headers", "auth-request-redirect", "auth-cache-key", "auth-cache-duration",
		"auth-proxy-set-headers", "auth-always-set-cookie", "limit-rps", "limit-rpm", "limit-burst-multiplier",
		"limit-connections", "limit-whitelist", "enable-cors", "cors-allow-origin", "cors-allow-methods", "cors-allow-headers",
		"cors-expose-headers", "cors-allow-credentials", "cors-max-age", "canary", "canary-weight", "canary-weight-total",
		"canary-by-header", "canary-by-header-value", "canary-by-header-pattern", "canary-by-cookie", "upstream-hash-by",
		"upstream-hash-by-subset", "load-balance", "affinity", "affinity-mode", "session-cookie-name", "session-cookie-path",
		"session-cookie-max-age", "session-cookie-expires", "session-cookie-samesite", "session-cookie-secure",
		"session-cookie-change-on-failure"} {
		a, ok := translate.LookupNginxAnnotation(name)
		if !ok || a.Note == "" || a.Support == "" {
			t.Errorf("%s: %+v, %v", name, a, ok)
		}
	}
}
