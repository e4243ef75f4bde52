package standalone

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestParseRefusesDuplicateKeys(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		line       int
		want       string
	}{
		{"block value", "apiVersion: v1\nkind: Service\nspec:\n  ports: [{port: 80}]\nspec:\n  ports: [{port: 81}]\n",
			5, `f.yaml:5: duplicate key "spec" (first set on line 3)`},
		{"in a list item", "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i}\nspec:\n  rules:\n  - host: a.example\n    http: {}\n    host: b.example\n",
			8, `f.yaml:8: duplicate key "host" (first set on line 6)`},
		{"flow mapping", "apiVersion: v1\nkind: Service\nmetadata: {name: a, name: b}\n",
			3, `f.yaml:3: duplicate key "name" (first set on line 3)`},
		{"quoted", "apiVersion: v1\nkind: Service\n\"kind\": Secret\n",
			3, `f.yaml:3: duplicate key "kind" (first set on line 2)`},
		{"overriding a merge", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nx: &d {a: '1'}\ndata:\n  <<: *d\n  a: '2'\n",
			7, `f.yaml:7: duplicate key "a" (a key merged in with "<<" cannot be set again)`},
		{"second document", service("a") + "---\n# c\n" + service("b") + "metadata: {name: c}\n",
			11, `f.yaml:11: duplicate key "metadata" (first set on line 9)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Parse("f.yaml", []byte(tc.yaml))
			wantFileError(t, err, "f.yaml", tc.line, tc.want)
		})
	}
}

func TestLoadRefusesDuplicateObjects(t *testing.T) {
	refGrant := func(version, ns string) string {
		return "apiVersion: gateway.networking.k8s.io/" + version + "\nkind: ReferenceGrant\nmetadata: {name: g, namespace: " + ns + "}\n" +
			"spec: {from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: a}], to: [{group: '', kind: Service}]}\n"
	}
	class := func(ns string) string {
		return "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: c, namespace: " + ns + "}\nspec: {controller: x/y}\n"
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		file  string
		line  int
		want  string
	}{
		{"one file", map[string]string{"a.yaml": service("web") + "---\n\n" + service("web")},
			"a.yaml", 7, "a.yaml:7: Service default/web is defined twice, first at DIR/a.yaml:1"},
		{"two files, default namespace", map[string]string{"a.yaml": service("web"), "b/c.yml": "# x\n" + strings.Replace(service("web"), "{name: web}", "{name: web, namespace: default}", 1)},
			"b/c.yml", 2, "c.yml:2: Service default/web is defined twice, first at DIR/a.yaml:1"},
		{"two versions of a kind", map[string]string{"a.yaml": refGrant("v1", "ns1"), "b.yaml": refGrant("v1beta1", "ns1")},
			"b.yaml", 1, "b.yaml:1: ReferenceGrant.gateway.networking.k8s.io ns1/g is defined twice, first at DIR/a.yaml:1"},
		{"cluster-scoped", map[string]string{"a.yaml": class("ns1") + "---\n" + class("")},
			"a.yaml", 6, "a.yaml:6: IngressClass.networking.k8s.io c is defined twice, first at DIR/a.yaml:1"},
		{name: "other namespace or kind", files: map[string]string{"a.yaml": refGrant("v1", "ns1") + "---\n" + refGrant("v1", "ns2") + "---\n" + service("g")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tc.files {
				writeFile(t, filepath.Join(dir, name), data)
			}
			_, err := loadWithin(t, dir, defaultLimits)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantFileError(t, err, filepath.Join(dir, tc.file), tc.line, replaceDir(tc.want, dir))
		})
	}
}

func replaceDir(s, dir string) string { return strings.ReplaceAll(s, "DIR", dir) }
