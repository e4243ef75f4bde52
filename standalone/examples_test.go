package standalone

import (
	"os"
	"path/filepath"
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
			res := translate.Translate(snap, translate.Options{ControllerName: "portico.dev/ingress-controller", IngressClass: "portico",
				GatewayControllerName: "portico.dev/gateway-controller",
				Istio:                 &translate.IstioOptions{Selector: map[string]string{"istio": "ingressgateway"}, PerGateway: true}})
			if res.HasErrors() {
				t.Fatalf("problems: %+v", res.Problems)
			}
			if len(router.Compile(res.Config).Routes()) == 0 {
				t.Fatal("example serves no route")
			}
		})
	}
}
