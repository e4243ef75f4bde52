package translate_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/portico-dev/portico/controllers/translate"
)

// TestNginxRoutingGolden translates testdata/nginx-routing/NAME.in.yaml
// with ingress-nginx compatibility on and compares with NAME.out.yaml
// (-update rewrites them).
func TestNginxRoutingGolden(t *testing.T) {
	ins, _ := filepath.Glob("testdata/nginx-routing/*.in.yaml")
	if len(ins) == 0 {
		t.Fatal("no golden inputs")
	}
	opts := testOptions
	opts.Nginx = &translate.NginxOptions{ConfigMap: map[string]string{"proxy-read-timeout": "30"}}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			got, err := yaml.Marshal(translate.Translate(loadSnapshot(t, in), opts))
			if err != nil {
				t.Fatal(err)
			}
			out := strings.TrimSuffix(in, ".in.yaml") + ".out.yaml"
			if *update {
				if err := os.WriteFile(out, got, 0o600); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("%v (run go test ./controllers/translate -update)", err)
			}
			if string(want) != string(got) {
				t.Errorf("translation of %s differs from %s (run with -update and review the diff):\n%s", in, out, got)
			}
		})
	}
}

// TestNginxSnippetSuffix: every *-snippet, known or not, is refused.
func TestNginxSnippetRegistry(t *testing.T) {
	for _, name := range []string{"configuration-snippet", "server-snippet", "auth-snippet", "stream-snippet", "modsecurity-snippet"} {
		a, ok := translate.LookupNginxAnnotation(name)
		if !ok || a.Support != translate.NginxRefused {
			t.Errorf("%s: %+v, want refused", name, a)
		}
	}
}
