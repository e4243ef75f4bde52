package router

import (
	"strings"
	"testing"
)

func TestCanonicalPath(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"", "/", true},
		{"/", "/", true},
		{"/foo", "/foo", true},
		{"/foo/", "/foo/", true},
		{"//foo///bar", "/foo/bar", true},
		{"/foo/./bar", "/foo/bar", true},
		{"/foo/../bar", "/bar", true},
		{"/../../etc/passwd", "/etc/passwd", true},
		{"/foo/..", "/", true},
		{"/foo/bar/..", "/foo/", true},
		{"/foo/.", "/foo/", true},
		{"/%2e%2e/admin", "/admin", true},
		{"/a/%62", "/a/b", true},
		{"/a%2fb", "/a%2Fb", true},
		{"/a%2Fb", "/a%2Fb", true},
		{"/%7euser", "/~user", true},
		{"/a%zz", "", false},
		{"/a%2", "", false},
		{"foo", "", false},
		{"/.well-known/acme", "/.well-known/acme", true},
		{"/..foo", "/..foo", true},
	}
	for _, c := range cases {
		got, ok := CanonicalPath(c.in)
		if ok != c.ok || got != c.want {
			t.Errorf("CanonicalPath(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestCanonicalPathNoAllocWhenCanonical(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() { _, _ = CanonicalPath("/api/v1/users/42") })
	if allocs != 0 {
		t.Fatalf("allocs = %v, want 0", allocs)
	}
}

// refCanonical is a slow, obviously correct reference: decode unreserved
// escapes, then resolve segments with a stack.
func refCanonical(p string) (string, bool) {
	if p == "" {
		return "/", true
	}
	if p[0] != '/' {
		return "", false
	}
	d, ok := normalizeEscapes(p)
	if !ok {
		return "", false
	}
	var stack []string
	parts := strings.Split(d, "/")[1:]
	trailing := false
	for i, s := range parts {
		trailing = false
		switch s {
		case "":
			trailing = i == len(parts)-1
		case ".":
			trailing = i == len(parts)-1
		case "..":
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			trailing = i == len(parts)-1
		default:
			stack = append(stack, s)
		}
	}
	out := "/" + strings.Join(stack, "/")
	if trailing && len(stack) > 0 {
		out += "/"
	}
	return out, true
}

func FuzzCanonicalPath(f *testing.F) {
	for _, s := range []string{"/", "/a//b/../c/./", "/%2e%2E/x", "/a%2fb", "//", "/..", "/a/b/.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, ok := CanonicalPath(p)
		want, wok := refCanonical(p)
		if ok != wok || got != want {
			t.Fatalf("CanonicalPath(%q) = %q, %v; reference %q, %v", p, got, ok, want, wok)
		}
		if !ok {
			return
		}
		again, ok2 := CanonicalPath(got)
		if !ok2 || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q", p, got, again)
		}
	})
}
