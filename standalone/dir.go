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
// configuration; so does a manifest name that is not (a symlink to) a
// regular file, a file over MaxFileSize, a directory over MaxTotalSize, and
// an object (kind, namespace, name) defined twice. Ignored lists the kinds
// that were skipped, by file.
func Load(dir string) (snap *translate.Snapshot, ignored []string, err error) {
	return load(dir, defaultLimits)
}

func load(dir string, lim limits) (snap *translate.Snapshot, ignored []string, err error) {
	files, err := yamlFiles(dir)
	if err != nil {
		return nil, nil, err
	}
	snap = &translate.Snapshot{}
	seen := objectIndex{}
	remaining := lim.total
	for _, f := range files {
		data, err := readManifest(f, lim, remaining)
		if err != nil {
			return nil, nil, err
		}
		remaining -= int64(len(data))
		objs, ign, err := parse(f, data)
		if err != nil {
			return nil, nil, err
		}
		for _, k := range ign {
			ignored = append(ignored, f+": "+k)
		}
		for _, o := range objs {
			if err := seen.add(f, o); err != nil {
				return nil, nil, err
			}
		}
		AddToSnapshot(snap, objects(objs))
	}
	return snap, ignored, nil
}

// yamlFiles lists every *.yaml and *.yml name under dir, recursively, in
// lexical order, whatever its type: readManifest refuses those that are not
// regular files or symlinks to them, so none is dropped silently.
// Directories whose names start with "." are skipped: a ConfigMap volume
// keeps its files in ..2024_*/ behind the ..data symlink, and they are read
// through the top-level symlinks instead. Symlinked directories below dir
// are not followed (no loops); dir itself may be a symlink.
func yamlFiles(dir string) ([]string, error) {
	root := dir
	if l, err := os.Lstat(dir); err == nil && l.Mode()&fs.ModeSymlink != 0 {
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			root = dir + string(filepath.Separator) // walk the target
		}
	}
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && strings.HasPrefix(d.Name(), ".") {
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

// fingerprint summarises the names, types, sizes and modification times of
// the manifest files (of their targets, for symlinks), to notice changes
// cheaply. It only stats, never opens, so a FIFO or device cannot block it;
// a name it cannot stat is summarised by its error, which Load reports.
func fingerprint(dir string) (string, error) {
	files, err := yamlFiles(dir)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			fmt.Fprintf(h, "%s\x00%v\n", f, err)
			continue
		}
		fmt.Fprintf(h, "%s\x00%v\x00%d\x00%d\n", f, st.Mode(), st.Size(), st.ModTime().UnixNano())
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}
