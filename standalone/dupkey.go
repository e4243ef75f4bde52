package standalone

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"

	yaml3 "go.yaml.in/yaml/v3"
)

// yaml.v2's strict mode (behind sigs.k8s.io/yaml's YAMLToJSONStrict, which
// the API server also uses for its duplicate-field check) reports a repeated
// key with the line of its value, which for a block value is the line below
// the key.
var dupKeyMsg = regexp.MustCompile(`line (\d+): key (.+) already set in map`)

// duplicateKey recognises yerr as a repeated mapping key. It returns the
// line of the repeated key and an error naming the key and the line it was
// first set on; lines count in the file, in which doc starts on docLine.
// The exact lines come from yaml.v3's node tree, read only on this error
// path; when that cannot place the key, strict mode's line is kept. A "<<"
// merge is not a key of its own: strict mode refuses overriding a merged
// key (as the API server does), and that is reported at strict mode's line.
func duplicateKey(doc []byte, docLine int, yerr error) (line int, err error, ok bool) {
	m := dupKeyMsg.FindStringSubmatch(yerr.Error())
	if m == nil {
		return 0, nil, false
	}
	valueLine, _ := strconv.Atoi(m[1])
	name := m[2]
	if s, uerr := strconv.Unquote(name); uerr == nil {
		name = s
	}
	var root yaml3.Node
	if yaml3.Unmarshal(doc, &root) == nil {
		var found *repeat
		walkRepeats(&root, func(r repeat) {
			if r.key.Value == name && (found == nil || r.value.Line == valueLine && found.value.Line != valueLine) {
				found = &r
			}
		})
		if found != nil {
			off := docLine - 1
			return off + found.key.Line, fmt.Errorf("duplicate key %q (first set on line %d)", name, off+found.first.Line), true
		}
	}
	if bytes.Contains(doc, []byte("<<")) {
		return docLine - 1 + valueLine, fmt.Errorf("duplicate key %q (a key merged in with \"<<\" cannot be set again)", name), true
	}
	return docLine - 1 + valueLine, fmt.Errorf("duplicate key %q", name), true
}

// repeat is a key set a second time in one mapping.
type repeat struct{ first, key, value *yaml3.Node }

// walkRepeats calls f for every repeated scalar key of every mapping under
// n, in document order. Aliases are not followed: the mapping they name is
// visited where it is defined.
func walkRepeats(n *yaml3.Node, f func(repeat)) {
	if n.Kind == yaml3.MappingNode {
		type id struct{ tag, value string }
		seen := map[id]*yaml3.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml3.ScalarNode || k.ShortTag() == "!!merge" {
				continue
			}
			if first, dup := seen[id{k.ShortTag(), k.Value}]; dup {
				f(repeat{first, k, n.Content[i+1]})
			} else {
				seen[id{k.ShortTag(), k.Value}] = k
			}
		}
	}
	for _, c := range n.Content {
		walkRepeats(c, f)
	}
}
