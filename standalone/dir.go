package standalone

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/portico-dev/portico/controllers/translate"
)

// Load reads every *.yaml and *.yml file under dir, recursively, in lexical
// order, into a Snapshot. A bad document fails the whole load with a
// *FileError naming its file and line, so callers keep their last good
// configuration. Ignored lists the kinds that were skipped, by file.
func Load(dir string) (snap *translate.Snapshot, ignored []string, err error) {
	files, err := yamlFiles(dir)
	if err != nil {
		return nil, nil, err
	}
	snap = &translate.Snapshot{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("reading manifests: %w", err)
		}
		objs, ign, err := Parse(f, data)
		if err != nil {
			return nil, nil, err
		}
		for _, k := range ign {
			ignored = append(ignored, f+": "+k)
		}
		AddToSnapshot(snap, objs)
	}
	return snap, ignored, nil
}

func yamlFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); ext == ".yaml" || ext == ".yml" {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing manifests in %s: %w", dir, err)
	}
	slices.Sort(files)
	return files, nil
}

// fingerprint summarises the names, sizes and modification times of the
// manifest files, to notice changes cheaply.
func fingerprint(dir string) (string, error) {
	files, err := yamlFiles(dir)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			continue
		}
		fmt.Fprintf(h, "%s\x00%d\x00%d\n", f, st.Size(), st.ModTime().UnixNano())
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}
