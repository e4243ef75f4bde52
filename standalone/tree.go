package standalone

import (
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
	// others are the objects of objs of kinds the Engine does not hold.
	others []runtime.Object
	// docs are the file's documents in order, with their parse (their
	// bytes point into the file as read, kept for the next reload).
	docs []docState
	// fresh are the indexes in objs of the objects parsed by the load that
	// made this state; dropped the objects of the state it replaced that
	// none of its documents kept (see parseFile; used once by difference).
	fresh   []int
	dropped []entry
}

// statKey is what a change to a file shows in its stat (of its target,
// for a symlink).
type statKey struct {
	mode  fs.FileMode
	size  int64
	mtime int64
	ino   uint64
}

// place is where an object is defined (the line as when it was indexed:
// lineOf finds it again for an error).
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
	gone, added := t.difference(next)
	if err := t.reindex(names, next, gone, added); err != nil {
		return nil, err
	}
	ch := &Changes{Files: len(reread), Others: &translate.Snapshot{}}
	changes(gone, added, ch)
	for _, f := range names {
		for _, k := range next[f].ignored {
			ch.Ignored = append(ch.Ignored, f+": "+k)
		}
		AddToSnapshot(ch.Others, next[f].others)
	}
	for _, f := range reread {
		next[f].dropped = nil
	}
	t.files = next
	return ch, nil
}

func statOf(st fs.FileInfo) statKey {
	k := statKey{mode: st.Mode(), size: st.Size(), mtime: st.ModTime().UnixNano()}
	if sys, ok := st.Sys().(interface{ Ino() uint64 }); ok {
		k.ino = sys.Ino()
	}
	return k
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

// entry is one object of a file in a reload's difference.
type entry struct {
	key  objectKey
	file string
	p    parsed
}

// difference lists the objects of the files that changed: those only in
// the old state (changed or gone) and those only in the new (changed or
// added), in file and object order. Objects whose documents did not
// change are the same parsed object in both states (parseFile reuses
// them) and are in neither list: parseFile noted the others.
func (t *tree) difference(next map[string]*fileState) (gone, added []entry) {
	var oldFiles, newFiles []string
	for f, old := range t.files {
		if next[f] != old {
			oldFiles = append(oldFiles, f)
		}
	}
	for f, fst := range next {
		if t.files[f] != fst {
			newFiles = append(newFiles, f)
		}
	}
	slices.Sort(oldFiles)
	slices.Sort(newFiles)
	for _, f := range oldFiles {
		if fst := next[f]; fst != nil {
			gone = append(gone, fst.dropped...)
			continue
		}
		old := t.files[f]
		for i, p := range old.objs {
			gone = append(gone, entry{old.keys[i], f, p})
		}
	}
	for _, f := range newFiles {
		fst := next[f]
		for _, i := range fst.fresh {
			added = append(added, entry{fst.keys[i], f, fst.objs[i]})
		}
	}
	return gone, added
}

// reindex applies a reload's difference to where each object is defined,
// and refuses an object defined twice as Load does: the later definition,
// in file and line order, is the error and names the first. On an error
// the index is left as it was.
func (t *tree) reindex(names []string, next map[string]*fileState, gone, added []entry) error {
	type undo struct {
		key objectKey
		was place
		had bool
	}
	var log []undo
	set := func(k objectKey, p place, del bool) {
		was, had := t.index[k]
		log = append(log, undo{k, was, had})
		if del {
			delete(t.index, k)
		} else {
			t.index[k] = p
		}
	}
	for _, e := range gone {
		if e.key != (objectKey{}) && t.index[e.key].file == e.file {
			set(e.key, place{}, true)
		}
	}
	order := map[string]int{}
	for i, f := range names {
		order[f] = i
	}
	for _, e := range added {
		if e.key == (objectKey{}) {
			continue
		}
		here := place{e.file, e.p.line}
		first, dup := t.index[e.key]
		if !dup {
			set(e.key, here, false)
			continue
		}
		first.line = lineOf(next[first.file], e.key, e.p.obj)
		for i := len(log) - 1; i >= 0; i-- {
			if log[i].had {
				t.index[log[i].key] = log[i].was
			} else {
				delete(t.index, log[i].key)
			}
		}
		if order[first.file] > order[here.file] || first.file == here.file && first.line > here.line {
			first, here = here, first
		}
		return &FileError{File: here.file, Line: here.line, Err: fmt.Errorf("%s is defined twice, first at %s", e.key, first)}
	}
	return nil
}

// lineOf finds where a file defines the object with key k, other than
// not.
func lineOf(fst *fileState, k objectKey, not runtime.Object) int {
	if fst == nil {
		return 0
	}
	for i, fk := range fst.keys {
		if fk == k && fst.objs[i].obj != not {
			return fst.objs[i].line
		}
	}
	return 0
}

// changes turns a reload's difference into the Engine's changes: the
// objects added or changed are Set, those gone and not defined again are
// Deleted.
func changes(gone, added []entry, ch *Changes) {
	again := map[objectKey]bool{}
	for _, e := range added {
		if engineKinds[e.key.kind] {
			ch.Set = append(ch.Set, e.p.obj)
			again[e.key] = true
		}
	}
	for _, e := range gone {
		if engineKinds[e.key.kind] && !again[e.key] {
			ch.Deleted = append(ch.Deleted, translate.ObjectRef{Kind: e.key.kind, Namespace: e.key.namespace, Name: e.key.name})
		}
	}
}
