package standalone

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds the YAML reader arbitrary files: Parse must not panic,
// and it returns either objects or a *FileError located in the file.
func FuzzParse(f *testing.F) {
	err := filepath.WalkDir("../examples", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || (filepath.Ext(p) != ".yaml" && filepath.Ext(p) != ".yml") {
			return err
		}
		data, err := os.ReadFile(p)
		if err == nil {
			f.Add(data)
		}
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(service("a") + "spec: {}\n"))
	f.Add([]byte("a: &d {x: 1}\nb:\n  <<: *d\n  x: 2\n---\nkind: Service\napiVersion: v1\nmetadata: {name: a, name: b}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, _, err := Parse("fuzz.yaml", data)
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) || fe.File != "fuzz.yaml" || fe.Line < 1 {
				t.Fatalf("error %v is not a *FileError located in fuzz.yaml", err)
			}
			if objs != nil {
				t.Fatal("objects returned with an error")
			}
			return
		}
		for _, o := range objs {
			if o == nil {
				t.Fatal("nil object")
			}
		}
	})
}
