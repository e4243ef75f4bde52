package standalone

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// docState is one document of a loaded file: its bytes, where it starts,
// and its parse (shared by the states that reuse it, so a reload copies a
// pointer per unchanged document).
type docState struct {
	data []byte
	line int
	*docInfo
}

// docInfo is a document's digest, parse and object identity.
type docInfo struct {
	sum [32]byte
	dp  docParse
	key objectKey
}

// docParse is one parsed document, its object's line relative to the
// document's first line.
type docParse struct {
	obj     *parsed
	ignored string
	offset  int
	other   bool // of a kind the Engine does not hold
}

// parseFile parses a file's documents, reusing old's parse of the
// documents whose bytes are unchanged. A reload of a file where one
// document changed must not cost the whole file: documents are matched
// with old's by position from the start and from the end while their
// bytes are equal (a comparison, no digest), and only the documents in
// between are hashed and looked up among old's by digest (a document
// moved); each of old's documents is reused at most once, so a document
// repeated in the file is parsed again and its copy is a distinct object
// for the duplicate check. Each object parsed gets its document's digest
// as resourceVersion when it has none, so the Engine can tell it
// unchanged. The new state notes the objects parsed (fresh) and old's
// objects not reused (dropped) for the reload's difference.
func parseFile(file string, data []byte, old *fileState) (*fileState, error) {
	docs := splitDocuments(data)
	fst := &fileState{size: int64(len(data)), docs: make([]docState, len(docs)),
		objs: make([]parsed, 0, len(docs)), keys: make([]objectKey, 0, len(docs))}
	reuse, lo, hashed := matchDocuments(docs, old)
	var used []bool
	if old != nil {
		used = make([]bool, len(old.docs))
	}
	for i, d := range docs {
		ds := docState{data: d.data, line: d.line}
		fresh := false
		if r := reuse[i]; r > 0 {
			ds.docInfo = old.docs[r-1].docInfo
			used[r-1] = true
		} else {
			fresh = true
			ds.docInfo = &docInfo{}
			if i >= lo && i-lo < len(hashed) {
				ds.sum = hashed[i-lo]
			} else {
				ds.sum = sha256.Sum256(d.data)
			}
			p, ign, err := parseDocument(file, d)
			if err != nil {
				return nil, err
			}
			ds.dp = docParse{obj: p, ignored: ign}
			if p != nil {
				ds.dp.offset = p.line - d.line
				if m, isMeta := p.obj.(metav1.Object); isMeta && m.GetResourceVersion() == "" {
					m.SetResourceVersion("sha256:" + hex.EncodeToString(ds.sum[:12]))
				}
				defaultNamespace(p)
				ds.key = keyOf(*p)
				ds.dp.other = !engineKinds[p.gvk.Kind]
			}
		}
		fst.docs[i] = ds
		if ds.dp.ignored != "" {
			fst.ignored = append(fst.ignored, ds.dp.ignored)
		}
		if ds.dp.obj == nil {
			continue
		}
		p := *ds.dp.obj
		p.line = d.line + ds.dp.offset
		if fresh {
			fst.fresh = append(fst.fresh, len(fst.objs))
		}
		if ds.dp.other {
			fst.others = append(fst.others, p.obj)
		}
		fst.objs = append(fst.objs, p)
		fst.keys = append(fst.keys, ds.key)
	}
	for i, ds := range oldDocs(old) {
		if !used[i] && ds.dp.obj != nil {
			p := *ds.dp.obj
			p.line = ds.line + ds.dp.offset
			fst.dropped = append(fst.dropped, entry{ds.key, file, p})
		}
	}
	return fst, nil
}

func oldDocs(old *fileState) []docState {
	if old == nil {
		return nil
	}
	return old.docs
}

// matchDocuments says which of old's documents each of docs reuses
// (index+1; 0 for none), and the digests it computed on the way: hashed[k]
// is that of docs[lo+k].
func matchDocuments(docs []document, old *fileState) (reuse []int, lo int, hashed [][32]byte) {
	reuse = make([]int, len(docs))
	if old == nil {
		return reuse, 0, nil
	}
	n, m := len(docs), len(old.docs)
	i := 0
	for ; i < n && i < m && bytes.Equal(docs[i].data, old.docs[i].data); i++ {
		reuse[i] = i + 1
	}
	j := 0
	for ; j < n-i && j < m-i && bytes.Equal(docs[n-1-j].data, old.docs[m-1-j].data); j++ {
		reuse[n-1-j] = m - j
	}
	if i+j == n || i+j == m {
		return reuse, 0, nil
	}
	bySum := make(map[[32]byte][]int, m-i-j)
	for k := i; k < m-j; k++ {
		bySum[old.docs[k].sum] = append(bySum[old.docs[k].sum], k)
	}
	hashed = make([][32]byte, n-i-j)
	for k := i; k < n-j; k++ {
		sum := sha256.Sum256(docs[k].data)
		hashed[k-i] = sum
		if c := bySum[sum]; len(c) > 0 {
			reuse[k], bySum[sum] = c[0]+1, c[1:]
		}
	}
	return reuse, i, hashed
}
