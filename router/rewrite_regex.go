package router

import (
	"net/url"
	"path"
	"regexp"
	"strings"
)

// regexRewrite rewrites the request path by regular expression. The
// expression runs on the canonical escaped path, the form the route
// matched, so that groups copy an encoded slash as %2F: a client cannot
// make a group climb out of the rewritten prefix with "..%2F". The result
// is made absolute and cleaned of empty, "." and ".." segments (a trailing
// slash is kept) and returned decoded and escaped.
func regexRewrite(x *Exchange, value string, re *regexp.Regexp) (decoded, escaped string, rewritten bool) {
	esc := x.RawPath
	if esc == "" {
		esc = (&url.URL{Path: x.Path}).EscapedPath()
	}
	out := cleanRewrittenPath(re.ReplaceAllString(esc, value))
	if c, ok := CanonicalPath(out); ok {
		out = c
	} else {
		out = (&url.URL{Path: out}).EscapedPath()
	}
	dec, err := url.PathUnescape(out)
	if err != nil {
		dec = out
	}
	return dec, out, true
}

// cleanRewrittenPath makes p absolute and removes empty, "." and ".."
// segments, keeping a trailing slash.
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
