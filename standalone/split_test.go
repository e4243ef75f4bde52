package standalone

import (
	"bytes"
	"reflect"
	"testing"
)

// splitReference is the line-by-line splitter splitDocuments replaced (it
// skips to lines starting with '-'); both must cut alike.
func splitReference(data []byte) []document {
	var docs []document
	start, startLine, line := 0, 1, 1
	for i := 0; i <= len(data); {
		end, next := len(data), len(data)+1
		if e := bytes.IndexByte(data[i:], '\n'); e >= 0 {
			end, next = i+e, i+e+1
		}
		l := bytes.TrimRight(data[i:end], " \t\r")
		if bytes.Equal(l, []byte("---")) || bytes.HasPrefix(l, []byte("--- ")) {
			docs = append(docs, document{startLine, data[start:i]})
			start, startLine = min(next, len(data)), line+1
		}
		i = next
		line++
	}
	return append(docs, document{startLine, data[start:]})
}

func TestSplitDocumentsAsReference(t *testing.T) {
	for _, in := range []string{
		"", "---", "---\n", "a: 1\n", "a: 1\n---\nb: 2\n", "---\na: 1\n---\n", "a: 1\n--- \nb: 2",
		"a: 1\n---\t\r\nb: 2\n", "a: 1\n--- # c\nb: 2\n", "a: 1\n----\nb: 2\n", "a: 1\n-- \n- x\n--\n",
		"- a\n- b\n---\n- c\n", "a: |\n  ---\n---\nb: 2\n", "\n\n---\n\n---\n\n", "a: 1\n---", "a: 1\n---\n---\nb",
		"-\n-\n---x\n--- y\n---",
	} {
		got, want := splitDocuments([]byte(in)), splitReference([]byte(in))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %+v, want %+v", in, got, want)
		}
	}
}

// FuzzSplitDocuments: the splitter that jumps between lines starting with
// '-' cuts every input as the line-by-line reference does.
func FuzzSplitDocuments(f *testing.F) {
	for _, s := range []string{"a: 1\n---\nb: 2\n", "---\n--- x\n----\n-- \n", "- a\n---\r\n- b", "\n-\n---"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, want := splitDocuments(data), splitReference(data)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: got %+v, want %+v", data, got, want)
		}
	})
}
