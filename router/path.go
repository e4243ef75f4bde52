package router

import "strings"

// CanonicalPath returns the one form of an escaped URL path that Portico
// routes on and forwards: percent-encoded unreserved characters decoded
// (RFC 3986 §6.2.2.2), other percent-encodings upper-cased, runs of slashes
// merged, and "." and ".." segments removed (§5.2.4), so that /a/./b,
// /a//b and /a/%62 are all /a/b. An empty path is "/". ok is false when the
// path does not start with "/" or holds a malformed percent-encoding.
//
// A path that is already canonical is returned as is, without allocating.
func CanonicalPath(p string) (canonical string, ok bool) {
	if p == "" {
		return "/", true
	}
	if p[0] != '/' {
		return "", false
	}
	if isCanonical(p) {
		return p, true
	}
	return canonicalSlow(p)
}

// isCanonical reports whether p needs no rewriting: no '%', no "//", and no
// "." or ".." segment.
func isCanonical(p string) bool {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '%':
			return false
		case '/':
			if i+1 < len(p) && p[i+1] == '/' {
				return false
			}
			if dotSegmentAt(p, i+1) {
				return false
			}
		}
	}
	return true
}

// dotSegmentAt reports whether the segment starting at i is "." or "..".
func dotSegmentAt(p string, i int) bool {
	if i >= len(p) || p[i] != '.' {
		return false
	}
	j := i + 1
	if j < len(p) && p[j] == '.' {
		j++
	}
	return j == len(p) || p[j] == '/'
}

func canonicalSlow(p string) (string, bool) {
	decoded, ok := normalizeEscapes(p)
	if !ok {
		return "", false
	}
	segs := strings.Split(decoded[1:], "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case "", ".":
			// Merged slash or "." segment; keep a trailing slash.
			if last && len(out) > 0 {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 && out[len(out)-1] == "" {
				out = out[:len(out)-1]
			}
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last && len(out) > 0 {
				out = append(out, "")
			}
		default:
			if len(out) > 0 && out[len(out)-1] == "" {
				out = out[:len(out)-1]
			}
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/"), true
}

// normalizeEscapes decodes %XX of unreserved characters and upper-cases the
// hex digits of every other escape.
func normalizeEscapes(p string) (string, bool) {
	if strings.IndexByte(p, '%') < 0 {
		return p, true
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			return "", false
		}
		v := unhex(p[i+1])<<4 | unhex(p[i+2])
		if isUnreserved(v) {
			b.WriteByte(v)
		} else {
			b.WriteByte('%')
			b.WriteByte(upperHex(p[i+1]))
			b.WriteByte(upperHex(p[i+2]))
		}
		i += 2
	}
	return b.String(), true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
