package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-dev/portico/standalone"
)

func TestExplainGatewayText(t *testing.T) {
	var out bytes.Buffer
	// Flags after the URL are accepted too.
	err := explain([]string{"--manifests", "../../examples/gateway", "http://shop.example.com:8080/api/x", "-H", "env: canary"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"listener    Gateway/demo/demo:8080 (http)",
		"host        shop.example.com: exact match shop.example.com, 4 route(s)",
		"WIN   HTTPRoute/demo/shop#rule1.path0 [Prefix /api header:env=canary]",
		"more header matches win among routes of the same path",
		"path: Exact /orders is not /api/x",
		"the longest matching prefix wins",
		"backends    demo/green:80 weight 1 http, 1 ready endpoint(s) [127.0.0.1:9002]",
		"outcome     proxied to demo/green:80 (1 ready)",
		"problems    none on the objects involved",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestExplainQuickstartJSON(t *testing.T) {
	var out bytes.Buffer
	if err := explain([]string{"--manifests", "../../examples/quickstart", "-o", "json", "-X", "post", "http://Shop.Example.com/api/orders"}, &out); err != nil {
		t.Fatal(err)
	}
	var v standalone.ExplainView
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v.Request != "POST http://Shop.Example.com/api/orders" || v.Host.Host != "shop.example.com" || v.Host.Match != "exact" || v.Winner == nil ||
		v.Winner.Source != "Ingress/demo/shop#rule0.path1" || v.Winner.Backends[0].Name != "demo/green:80" || len(v.Candidates) != 3 {
		t.Fatalf("unexpected explanation:\n%s", out.String())
	}
	if !strings.HasPrefix(v.Listener, "shared Ingress listener (http, port 80)") {
		t.Fatalf("listener %q", v.Listener)
	}
	// An unknown host: no host table, 404.
	out.Reset()
	if err := explain([]string{"--manifests", "../../examples/quickstart", "-o", "json", "http://nowhere.example.org/"}, &out); err != nil {
		t.Fatal(err)
	}
	v = standalone.ExplainView{}
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v.Winner != nil || v.Host.Match != "none" || !strings.HasPrefix(v.Outcome, "404") {
		t.Fatalf("unexpected explanation:\n%s", out.String())
	}
}

func TestExplainProblemsOfInvolvedObjects(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("../../examples/quickstart/ingresses.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The green Service does not exist: the hosts Ingress has a problem.
	bad := strings.ReplaceAll(string(data), "name: green, port: {number: 80}", "name: missing, port: {number: 80}")
	for name, body := range map[string]string{"ingresses.yaml": bad} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"backends.yaml", "classes.yaml"} {
		b, err := os.ReadFile(filepath.Join("../../examples/quickstart", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if err := explain([]string{"--manifests", dir, "http://green.example.com/"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "problems    Error Ingress/demo/hosts") || strings.Contains(out.String(), "Ingress/demo/shop spec") {
		t.Fatalf("want the hosts Ingress's problems only:\n%s", out.String())
	}
}

func TestExplainFlags(t *testing.T) {
	var out bytes.Buffer
	for _, args := range [][]string{
		{"http://a/"},
		{"--manifests", "x", "--kubeconfig", "y", "http://a/"},
		{"--manifests", "../../examples/quickstart"},
		{"--manifests", "../../examples/quickstart", "ftp://a/"},
		{"--manifests", "../../examples/quickstart", "-H", "bad", "http://a/"},
	} {
		if err := explain(args, &out); err == nil {
			t.Errorf("%q: want an error", args)
		}
	}
}
