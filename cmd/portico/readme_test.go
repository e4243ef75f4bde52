package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/portico-dev/portico/controllers/translate"
)

const readmePath = "../../README.md"

// TestReadmeNginx checks the README's generated ingress-nginx sections:
// the annotation and ConfigMap tables (from translate.NginxAnnotations and
// translate.NginxConfigKeys) and the sample `portico migrate` output (the
// corpus report). `make readme-nginx` regenerates them.
func TestReadmeNginx(t *testing.T) {
	data, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	var sample bytes.Buffer
	runMigrate([]string{"ingress-nginx", "--manifests", corpus}, &sample, &bytes.Buffer{})
	readme := string(data)
	for _, s := range []struct{ marker, body string }{
		{"nginx-annotations", nginxTables()},
		{"nginx-migrate-sample", "```console\n$ portico migrate ingress-nginx --manifests examples/ingress-nginx\n" +
			strings.ReplaceAll(sample.String(), corpus, "examples/ingress-nginx") + "$ echo $?\n1\n```\n"},
	} {
		next, err := replaceBetween(readme, s.marker, s.body)
		if err != nil {
			t.Fatal(err)
		}
		if next != readme && !*update {
			t.Errorf("README.md section %s is out of date: run make readme-nginx", s.marker)
		}
		readme = next
	}
	if *update && readme != string(data) {
		if err := os.WriteFile(readmePath, []byte(readme), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// replaceBetween puts body between <!-- marker:begin --> and
// <!-- marker:end -->.
func replaceBetween(doc, marker, body string) (string, error) {
	begin, end := "<!-- "+marker+":begin -->\n", "<!-- "+marker+":end -->"
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		return "", fmt.Errorf("README.md lacks the markers %q ... %q", strings.TrimSpace(begin), end)
	}
	return doc[:i+len(begin)] + body + doc[j:], nil
}

// nginxTables renders the registries as Markdown tables.
func nginxTables() string {
	var b strings.Builder
	count := map[translate.NginxSupport]int{}
	for _, a := range translate.NginxAnnotations() {
		count[a.Support]++
	}
	fmt.Fprintf(&b, "%d annotations known: %d supported, %d with a difference, %d unsupported, %d refused (any other is reported as unknown).\n\n",
		len(translate.NginxAnnotations()), count[translate.NginxSupported], count[translate.NginxDifferent],
		count[translate.NginxUnsupported], count[translate.NginxRefused])
	b.WriteString("| Annotation (`nginx.ingress.kubernetes.io/`) | Portico | ingress-nginx default | Notes |\n|---|---|---|---|\n")
	for _, a := range translate.NginxAnnotations() {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", a.Name, supportCell(a.Support), code(a.Default), cell(a.Note))
	}
	b.WriteString("\n| ConfigMap key | Portico | ingress-nginx default | Notes |\n|---|---|---|---|\n")
	for _, k := range translate.NginxConfigKeys() {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", k.Name, supportCell(k.Support), code(k.Default), cell(k.Note))
	}
	return b.String()
}

func supportCell(s translate.NginxSupport) string {
	switch s {
	case translate.NginxSupported:
		return "supported"
	case translate.NginxDifferent:
		return "with a difference"
	case translate.NginxRefused:
		return "**refused**"
	}
	return "unsupported"
}

func code(v string) string {
	if v == "" {
		return ""
	}
	return "`" + strings.ReplaceAll(v, "|", `\|`) + "`"
}

func cell(v string) string {
	return strings.ReplaceAll(strings.ReplaceAll(v, "|", `\|`), "\n", " ")
}
