package router

import (
	"path"
	"strings"
)

// cleanRewrittenPath makes a path produced by a regular-expression rewrite
// safe to forward: the groups it copies come from the client's decoded
// path, where an encoded slash may have become a "/" next to dots, so the
// result is made absolute and cleaned of empty, "." and ".." segments (a
// trailing slash is kept). Escaping happens when the path is forwarded.
func cleanRewrittenPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if !strings.Contains(p, "//") && !strings.Contains(p, "/.") {
		return p
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}
