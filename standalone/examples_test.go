package standalone

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/router"
)

// TestExamplesTranslate loads every example directory, as `portico routes`
// would, and requires it to translate without errors and to route.
func TestExamplesTranslate(t *testing.T) {
	var dirs []string
	err := filepath.WalkDir("../examples", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if yamls, _ := filepath.Glob(filepath.Join(p, "*.yaml")); len(yamls) > 0 {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	for _, dir := range dirs {
		t.Run(dir, func(t *testing.T) {
			snap, ignored, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(ignored) > 0 {
				t.Logf("ignored: %v", ignored)
			}
			opts := translate.Options{ControllerName: "portico.dev/ingress-controller", IngressClass: "portico",
				GatewayControllerName: "portico.dev/gateway-controller",
				Istio:                 &translate.IstioOptions{Selector: map[string]string{"istio": "ingressgateway"}, PerGateway: true}}
			nginx := strings.Contains(filepath.ToSlash(dir), "examples/ingress-nginx")
			if nginx {
				// The ingress-nginx corpus, with its ConfigMap, as
				// --ingress-nginx-compat serves it.
				opts.Nginx = &translate.NginxOptions{}
				if opts, err = WithNginxConfig(opts, snap, ""); err != nil || opts.Nginx.ConfigMap == nil {
					t.Fatalf("the corpus's ConfigMap: %v", err)
				}
			}
			res := translate.Translate(snap, opts)
			canary, _ := translate.LookupNginxAnnotation("canary")
			canaryOn := canary.Support == translate.NginxSupported || canary.Support == translate.NginxDifferent
			for _, p := range res.Problems {
				// The corpus holds a snippet on purpose: refusing its
				// Ingress is the expected outcome; and its canary Ingress
				// claims the main one's path until canary is implemented.
				expected := nginx && (p.Reason == "AnnotationRefused" ||
					p.Reason == "RouteConflict" && strings.HasSuffix(p.Object.Name, "-canary") && !canaryOn)
				if p.Severity == translate.SeverityError && !expected {
					t.Fatalf("problem: %+v", p)
				}
			}
			if len(router.Compile(res.Config).Routes()) == 0 {
				t.Fatal("example serves no route")
			}
		})
	}
}
