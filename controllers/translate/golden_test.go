package translate_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/yaml"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/standalone"
)

var update = flag.Bool("update", false, "rewrite testdata/*.out.yaml from the current translation")

var testOptions = translate.Options{
	ControllerName:        "portico.dev/ingress-controller",
	IngressClass:          "portico",
	GatewayControllerName: "portico.dev/gateway-controller",
	Now:                   time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC),
	Istio: &translate.IstioOptions{Selector: map[string]string{"istio": "ingressgateway"}, MainPorts: []int32{80, 443},
		Namespace: "portico-system"},
}

func loadSnapshot(t testing.TB, file string) *translate.Snapshot {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	objs, _, err := standalone.Parse(file, data)
	if err != nil {
		t.Fatal(err)
	}
	var s translate.Snapshot
	standalone.AddToSnapshot(&s, objs)
	return &s
}

// TestGolden translates every testdata/NAME.in.yaml and compares the
// result with NAME.out.yaml. Run with -update to regenerate, then review
// the diff.
func TestGolden(t *testing.T) {
	ins, _ := filepath.Glob("testdata/*.in.yaml")
	if len(ins) == 0 {
		t.Fatal("no golden inputs")
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			res := translate.Translate(loadSnapshot(t, in), testOptions)
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

// TestDeterministicAndPure translates every input twice, from objects in
// reversed order the second time, and checks the results are equal and the
// input unchanged.
func TestDeterministicAndPure(t *testing.T) {
	ins, _ := filepath.Glob("testdata/*.in.yaml")
	for _, in := range ins {
		s := loadSnapshot(t, in)
		before := deepCopy(s)
		a := translate.Translate(s, testOptions)
		if !samesnapshot(s, before) {
			t.Fatalf("%s: Translate modified its input", in)
		}
		rev := deepCopy(s)
		reverse(rev.Ingresses)
		reverse(rev.Services)
		reverse(rev.EndpointSlices)
		reverse(rev.IngressClasses)
		reverse(rev.Secrets)
		reverse(rev.Gateways)
		reverse(rev.HTTPRoutes)
		reverse(rev.BackendTLSPolicies)
		reverse(rev.ConfigMaps)
		reverse(rev.SecurityPolicies)
		reverse(rev.TrafficPolicies)
		reverse(rev.IstioGateways)
		reverse(rev.VirtualServices)
		reverse(rev.DestinationRules)
		reverse(rev.Pods)
		reverse(rev.GRPCRoutes)
		reverse(rev.TLSRoutes)
		reverse(rev.TCPRoutes)
		reverse(rev.GatewayClasses)
		reverse(rev.ReferenceGrants)
		b := translate.Translate(rev, testOptions)
		ya, _ := yaml.Marshal(a)
		yb, _ := yaml.Marshal(b)
		if string(ya) != string(yb) {
			t.Fatalf("%s: translation depends on input order:\n%s\n---\n%s", in, ya, yb)
		}
	}
}

func deepCopy(s *translate.Snapshot) *translate.Snapshot {
	c := &translate.Snapshot{}
	for _, o := range s.IngressClasses {
		c.IngressClasses = append(c.IngressClasses, *o.DeepCopy())
	}
	for _, o := range s.Ingresses {
		c.Ingresses = append(c.Ingresses, *o.DeepCopy())
	}
	for _, o := range s.Services {
		c.Services = append(c.Services, *o.DeepCopy())
	}
	for _, o := range s.EndpointSlices {
		c.EndpointSlices = append(c.EndpointSlices, *o.DeepCopy())
	}
	for _, o := range s.Secrets {
		c.Secrets = append(c.Secrets, *o.DeepCopy())
	}
	for _, o := range s.Namespaces {
		c.Namespaces = append(c.Namespaces, *o.DeepCopy())
	}
	for _, o := range s.GatewayClasses {
		c.GatewayClasses = append(c.GatewayClasses, *o.DeepCopy())
	}
	for _, o := range s.SecurityPolicies {
		c.SecurityPolicies = append(c.SecurityPolicies, *o.DeepCopy())
	}
	for _, o := range s.TrafficPolicies {
		c.TrafficPolicies = append(c.TrafficPolicies, *o.DeepCopy())
	}
	for _, o := range s.Gateways {
		c.Gateways = append(c.Gateways, *o.DeepCopy())
	}
	for _, o := range s.HTTPRoutes {
		c.HTTPRoutes = append(c.HTTPRoutes, *o.DeepCopy())
	}
	for _, o := range s.GRPCRoutes {
		c.GRPCRoutes = append(c.GRPCRoutes, *o.DeepCopy())
	}
	for _, o := range s.TLSRoutes {
		c.TLSRoutes = append(c.TLSRoutes, *o.DeepCopy())
	}
	for _, o := range s.TCPRoutes {
		c.TCPRoutes = append(c.TCPRoutes, *o.DeepCopy())
	}
	for _, o := range s.ReferenceGrants {
		c.ReferenceGrants = append(c.ReferenceGrants, *o.DeepCopy())
	}
	for _, o := range s.BackendTLSPolicies {
		c.BackendTLSPolicies = append(c.BackendTLSPolicies, *o.DeepCopy())
	}
	for _, o := range s.ConfigMaps {
		c.ConfigMaps = append(c.ConfigMaps, *o.DeepCopy())
	}
	for _, o := range s.IstioGateways {
		c.IstioGateways = append(c.IstioGateways, o.DeepCopy())
	}
	for _, o := range s.VirtualServices {
		c.VirtualServices = append(c.VirtualServices, o.DeepCopy())
	}
	for _, o := range s.DestinationRules {
		c.DestinationRules = append(c.DestinationRules, o.DeepCopy())
	}
	for _, o := range s.Pods {
		c.Pods = append(c.Pods, *o.DeepCopy())
	}
	return c
}

func reverse[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// samesnapshot compares snapshots; Istio objects hold protobuf messages,
// which are compared by their JSON form.
func samesnapshot(a, b *translate.Snapshot) bool {
	ja, _ := json.Marshal([]any{a.IstioGateways, a.VirtualServices, a.DestinationRules})
	jb, _ := json.Marshal([]any{b.IstioGateways, b.VirtualServices, b.DestinationRules})
	ca, cb := *a, *b
	ca.IstioGateways, ca.VirtualServices, ca.DestinationRules = nil, nil, nil
	cb.IstioGateways, cb.VirtualServices, cb.DestinationRules = nil, nil, nil
	return string(ja) == string(jb) && equality.Semantic.DeepEqual(&ca, &cb)
}
