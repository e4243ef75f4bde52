package standalone

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/portico-dev/portico/controllers/translate"
)

// tree is a manifest directory as last loaded: every file's stat, size and
// objects, and where each object is defined. A reload reads and parses
// only the files whose stat changed, and of those only the documents whose
// bytes changed; the limits, the regular-file checks and the duplicate
// detection are those of Load, over the whole directory.
type tree struct {
	dir   string
	lim   limits
	files map[string]*fileState
	index map[objectKey]place
}

// fileState is one loaded manifest file.
type fileState struct {
	stat    statKey
	size    int64
	objs    []parsed
	keys    []objectKey // of objs, in order (zero for unnamed objects)
	ignored []string
	// docs caches the file's parsed documents by content digest.
	docs map[[32]byte]docParse
}

// statKey is what a change to a file shows in its stat (of its target,
// for a symlink).
type statKey struct {
	mode  fs.FileMode
	size  int64
	mtime int64
	ino   uint64
}

// docParse is one parsed document, its object's line relative to the
// document's first line.
type docParse struct {
	obj     *parsed
	ignored string
	offset  int
}

// place is where an object is defined.
type place struct {
	file string
	line int
}

func (p place) String() string { return fmt.Sprintf("%s:%d", p.file, p.line) }

func newTree(dir string, lim limits) *tree {
	return &tree{dir: dir, lim: lim, files: map[string]*fileState{}, index: map[objectKey]place{}}
}

// Changes is what one reload changed. Set holds the objects added or
// changed, Deleted those gone, of the kinds the translation Engine holds
// (translate.Engine.Set); Others holds every object of the other kinds, for
// Engine.SetOthers. Files counts the files read and parsed again.
type Changes struct {
	Set     []runtime.Object
	Deleted []translate.ObjectRef
	Others  *translate.Snapshot
	Ignored []string
	Files   int
}

// engineKinds are the kinds translate.Engine.Set takes.
var engineKinds = map[string]bool{"IngressClass": true, "Ingress": true, "Service": true, "EndpointSlice": true, "Secret": true}

// load reloads the directory. On any error nothing changes: the tree keeps
// the last good state, and the error names the file (and line).
func (t *tree) load() (*Changes, error) {
	names, err := yamlFiles(t.dir)
	if err != nil {
		return nil, err
	}
	next := make(map[string]*fileState, len(names))
	var reread []string
	var total int64
	for _, f := range names {
		st, err := os.Stat(f)
		if err != nil {
			return nil, cannotRead(f, err)
		}
		old := t.files[f]
		if old != nil && old.stat == statOf(st) {
			total += old.size
			if total > t.lim.total {
				return nil, tooLarge(f, t.lim, 0)
			}
			next[f] = old
			continue
		}
		data, err := readManifest(f, t.lim, t.lim.total-total)
		if err != nil {
			return nil, err
		}
		total += int64(len(data))
		fst, err := parseFile(f, data, old)
		if err != nil {
			return nil, err
		}
		fst.stat = statOf(st)
		next[f] = fst
		reread = append(reread, f)
	}
	index, err := t.reindex(names, next, reread)
	if err != nil {
		return nil, err
	}
	ch := &Changes{Files: len(reread), Others: &translate.Snapshot{}}
	t.diff(next, ch)
	for _, f := range names {
		for _, k := range next[f].ignored {
			ch.Ignored = append(ch.Ignored, f+": "+k)
		}
		var others []runtime.Object
		for _, p := range next[f].objs {
			if !engineKinds[p.gvk.Kind] {
				others = append(others, p.obj)
			}
		}
		AddToSnapshot(ch.Others, others)
	}
	t.files, t.index = next, index
	return ch, nil
}

func statOf(st fs.FileInfo) statKey {
	k := statKey{mode: st.Mode(), size: st.Size(), mtime: st.ModTime().UnixNano()}
	if sys, ok := st.Sys().(interface{ Ino() uint64 }); ok {
		k.ino = sys.Ino()
	}
	return k
}

// parseFile parses a file's documents, reusing old's parse of the
// documents whose bytes are unchanged. Each object gets its document's
// digest as resourceVersion when it has none, so the Engine can tell it
// unchanged.
func parseFile(file string, data []byte, old *fileState) (*fileState, error) {
	fst := &fileState{size: int64(len(data)), docs: map[[32]byte]docParse{}}
	for _, d := range splitDocuments(data) {
		sum := sha256.Sum256(d.data)
		dp, ok := docParse{}, false
		if old != nil {
			dp, ok = old.docs[sum]
		}
		if !ok {
			p, ign, err := parseDocument(file, d)
			if err != nil {
				return nil, err
			}
			dp = docParse{obj: p, ignored: ign}
			if p != nil {
				dp.offset = p.line - d.line
				if m, isMeta := p.obj.(metav1.Object); isMeta && m.GetResourceVersion() == "" {
					m.SetResourceVersion("sha256:" + hex.EncodeToString(sum[:12]))
				}
				defaultNamespace(p)
			}
		}
		fst.docs[sum] = dp
		if dp.ignored != "" {
			fst.ignored = append(fst.ignored, dp.ignored)
		}
		if dp.obj != nil {
			p := *dp.obj
			p.line = d.line + dp.offset
			fst.objs = append(fst.objs, p)
			fst.keys = append(fst.keys, keyOf(p))
		}
	}
	return fst, nil
}

// defaultNamespace puts namespaced objects without a namespace in
// "default", as AddToSnapshot does.
func defaultNamespace(p *parsed) {
	if m, ok := p.obj.(metav1.Object); ok && m.GetNamespace() == "" && !clusterScoped[p.gvk.GroupKind()] {
		m.SetNamespace("default")
	}
}

// keyOf is the object's identity (zero for an object without a name).
func keyOf(p parsed) objectKey {
	m, ok := p.obj.(metav1.Object)
	if !ok || m.GetName() == "" {
		return objectKey{}
	}
	gk := p.gvk.GroupKind()
	k := objectKey{gk.Group, gk.Kind, m.GetNamespace(), m.GetName()}
	if clusterScoped[gk] {
		k.namespace = ""
	}
	return k
}

// reindex updates where each object is defined for the files re-read and
// gone, and refuses an object defined twice as Load does: the later
// definition, in file and line order, is the error and names the first.
func (t *tree) reindex(names []string, next map[string]*fileState, reread []string) (map[objectKey]place, error) {
	index := make(map[objectKey]place, len(t.index))
	touched := map[string]bool{}
	for _, f := range reread {
		touched[f] = true
	}
	for f := range t.files {
		if next[f] == nil {
			touched[f] = true
		}
	}
	for k, p := range t.index {
		if !touched[p.file] {
			index[k] = p
		}
	}
	order := map[string]int{}
	for i, f := range names {
		order[f] = i
	}
	for _, f := range reread {
		fst := next[f]
		for i, k := range fst.keys {
			if k == (objectKey{}) {
				continue
			}
			here := place{f, fst.objs[i].line}
			first, dup := index[k]
			if !dup {
				index[k] = here
				continue
			}
			if order[first.file] > order[here.file] || first.file == here.file && first.line > here.line {
				first, here = here, first
			}
			return nil, &FileError{File: here.file, Line: here.line, Err: fmt.Errorf("%s is defined twice, first at %s", k, first)}
		}
	}
	return index, nil
}

// diff lists the Engine-kind objects of the files that changed: those
// whose digest changed or that are new as Set, those gone as Deleted.
func (t *tree) diff(next map[string]*fileState, ch *Changes) {
	before := map[objectKey]runtime.Object{}
	after := map[objectKey]runtime.Object{}
	for f, old := range t.files {
		if next[f] == old {
			continue
		}
		for i, k := range old.keys {
			if engineKinds[k.kind] {
				before[k] = old.objs[i].obj
			}
		}
	}
	var files []string
	for f, fst := range next {
		if t.files[f] != fst {
			files = append(files, f)
		}
	}
	slices.Sort(files)
	for _, f := range files {
		fst := next[f]
		for i, k := range fst.keys {
			if engineKinds[k.kind] {
				after[k] = fst.objs[i].obj
			}
		}
	}
	for k, o := range after {
		if b, ok := before[k]; !ok || b != o {
			ch.Set = append(ch.Set, o)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			ch.Deleted = append(ch.Deleted, translate.ObjectRef{Kind: k.kind, Namespace: k.namespace, Name: k.name})
		}
	}
}
