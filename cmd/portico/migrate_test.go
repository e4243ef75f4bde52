package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the migrate golden files and the README's generated ingress-nginx sections")

const corpus = "../../examples/ingress-nginx"

// TestMigrateCorpus runs the report on the ingress-nginx corpus and
// compares text and JSON with testdata/migrate.golden.{txt,json}. The
// registries change as annotations are implemented: run
// `make readme-nginx` (go test ./cmd/portico -run 'TestMigrate|TestReadme' -update) and review.
func TestMigrateCorpus(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := runMigrate([]string{"ingress-nginx", "--manifests", corpus, "-o", format}, &out, &errOut)
			if code != migrateChanges {
				t.Fatalf("exit %d, want %d (the corpus holds unsupported annotations and a snippet)\n%s%s", code, migrateChanges, errOut.String(), out.String())
			}
			ext := map[string]string{"text": "txt", "json": "json"}[format]
			golden := filepath.Join("testdata", "migrate.golden."+ext)
			got := strings.ReplaceAll(out.String(), corpus, "examples/ingress-nginx")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run make readme-nginx)", err)
			}
			if got != string(want) {
				t.Errorf("report differs from %s (run make readme-nginx and review the diff):\n%s", golden, got)
			}
		})
	}
}

// TestMigrateJSONShape checks the JSON report against the corpus: every
// Ingress of the class is listed, the snippet is recognised, the legacy
// class annotation selects, and the summary adds up.
func TestMigrateJSONShape(t *testing.T) {
	var out bytes.Buffer
	if code := runMigrate([]string{"ingress-nginx", "--manifests", corpus, "-o", "json"}, &out, &bytes.Buffer{}); code != migrateChanges {
		t.Fatalf("exit %d", code)
	}
	var rep migrateReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	byName := map[string]ingressReport{}
	for _, ir := range rep.Ingresses {
		byName[ir.Name] = ir
	}
	if len(rep.Ingresses) != 16 || byName["static"].Name == "" || !rep.ConfigMap.Found {
		t.Fatalf("ingresses %d, static listed %v, ConfigMap found %v", len(rep.Ingresses), byName["static"].Name != "", rep.ConfigMap.Found)
	}
	var snippet *annotationReport
	for i, a := range byName["legacy-headers"].Annotations {
		if a.Name == "configuration-snippet" {
			snippet = &byName["legacy-headers"].Annotations[i]
		}
	}
	if snippet == nil || len(snippet.Snippet) != 4 || !strings.Contains(snippet.Snippet[3].Use, "permanent-redirect") ||
		!strings.Contains(snippet.Snippet[0].Use, "response header") {
		t.Fatalf("snippet not recognised: %+v", snippet)
	}
	if len(byName["static"].Paths) != 1 || byName["static"].Paths[0].PathType != "ImplementationSpecific" {
		t.Fatalf("ImplementationSpecific path change not reported: %+v", byName["static"].Paths)
	}
	s := rep.Summary
	if s.Changes != s.Refused+s.Problems+s.Paths+s.Different+s.Unsupported+s.RefusedAnn+s.ConfigKeys || s.Changes == 0 {
		t.Fatalf("summary does not add up: %+v", s)
	}
}

func TestMigrateExitCodes(t *testing.T) {
	same := t.TempDir()
	writeFile(t, filepath.Join(same, "all.yaml"), `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: k8s.io/ingress-nginx}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 80}]
endpoints: [{addresses: [10.0.0.1], conditions: {ready: true}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: plain, namespace: default}
spec:
  ingressClassName: nginx
  rules:
  - host: a.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {name: http}}}}]}
`)
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"nothing changes", []string{"ingress-nginx", "--manifests", same}, migrateSame},
		{"corpus changes", []string{"ingress-nginx", "--manifests", corpus}, migrateChanges},
		{"no subcommand", nil, migrateFailed},
		{"unknown subcommand", []string{"traefik"}, migrateFailed},
		{"both sources", []string{"ingress-nginx", "--manifests", same, "--kubeconfig", "x"}, migrateFailed},
		{"bad output", []string{"ingress-nginx", "--manifests", same, "-o", "yaml"}, migrateFailed},
		{"bad configmap", []string{"ingress-nginx", "--manifests", same, "--configmap", "nameonly"}, migrateFailed},
		{"missing dir", []string{"ingress-nginx", "--manifests", filepath.Join(same, "nope")}, migrateFailed},
		{"unreadable kubeconfig", []string{"ingress-nginx", "--kubeconfig", filepath.Join(same, "nope")}, migrateFailed},
		{"unknown flag", []string{"ingress-nginx", "--nope"}, migrateFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if got := runMigrate(tc.args, &out, &errOut); got != tc.want {
				t.Fatalf("exit %d, want %d\n%s%s", got, tc.want, errOut.String(), out.String())
			}
		})
	}
}

func TestRecogniseSnippet(t *testing.T) {
	got := recogniseSnippet(`
# headers
more_set_headers "X-Frame-Options: DENY";
if ($http_user_agent ~ "bot") { return 403; }
proxy_set_header X-Real-Host $host;
client_max_body_size 20m;
frobnicate on;`)
	want := []string{"more_set_headers", "if (", "proxy_set_header", "client_max_body_size", "frobnicate"}
	if len(got) != len(want) {
		t.Fatalf("got %d findings: %+v", len(got), got)
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i].Directive, w) {
			t.Errorf("finding %d: %q, want %s...", i, got[i].Directive, w)
		}
	}
	if got[3].Use != "proxy-body-size" || got[4].Did != "not recognised" {
		t.Errorf("unexpected findings: %+v", got)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
