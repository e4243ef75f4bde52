package main

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/dataplane"
	"github.com/portico-dev/portico/standalone"
)

func TestRoutesQuickstart(t *testing.T) {
	var out bytes.Buffer
	if err := routes([]string{"--manifests", "../../examples/quickstart", "-o", "json"}, &out); err != nil {
		t.Fatal(err)
	}
	var rep standalone.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Routes) != 5 || len(rep.Problems) != 0 {
		t.Fatalf("routes %d problems %d:\n%s", len(rep.Routes), len(rep.Problems), out.String())
	}
	r := rep.Routes[len(rep.Routes)-1]
	if r.Host != "shop.example.com" || r.Path != "/status" || r.Match != "Exact" ||
		r.Backends[0].Name != "demo/green:80" || r.Backends[0].Weight != 1 ||
		r.Backends[0].Endpoints[0] != "127.0.0.1:9002" || r.Source != "Ingress/demo/shop#rule0.path2" {
		t.Fatalf("unexpected row %+v", r)
	}
}

func TestRoutesFailsOnErrors(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("../../controllers/translate/testdata/errors.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "errors.yaml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = routes([]string{"--manifests", dir}, &out)
	if err == nil {
		t.Fatal("want a non-nil error (non-zero exit) when objects have errors")
	}
	for _, want := range []string{"ServiceNotFound", "spec.rules[0].http.paths[1].backend.service.name", "LISTENER"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestRoutesApplied: --applied prints a running Portico's /debug/applied
// beside the table.
func TestRoutesApplied(t *testing.T) {
	log := dataplane.NewAppliedLog()
	log.Record("Ingress/demo/shop", false, 7, time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC))
	srv := httptest.NewServer(log)
	defer srv.Close()
	var out bytes.Buffer
	if err := routes([]string{"--manifests", "../../examples/quickstart", "--applied", srv.URL}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Ingress/demo/shop generation 7 at 2026-12-02T01:00:00Z") {
		t.Fatalf("output lacks the applied entry:\n%s", out.String())
	}
}
