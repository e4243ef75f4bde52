package router

import (
	"errors"
	"fmt"
	"net/textproto"
	"strings"
)

// tokenSources are where a credential is looked for, in order.
type tokenSources []TokenSource

func compileSources(field string, from []TokenSource, def TokenSource) (tokenSources, error) {
	if len(from) == 0 {
		def.Header = canonicalName(def.Header)
		return tokenSources{def}, nil
	}
	for i, s := range from {
		n := 0
		for _, v := range []string{s.Header, s.Cookie, s.Query} {
			if v != "" {
				n++
			}
		}
		if n != 1 {
			return nil, fmt.Errorf("%s[%d]: set exactly one of header, cookie, query", field, i)
		}
		if s.Prefix != "" && s.Header == "" {
			return nil, fmt.Errorf("%s[%d].prefix: only with header", field, i)
		}
	}
	out := make(tokenSources, len(from))
	for i, s := range from {
		s.Header = canonicalName(s.Header)
		out[i] = s
	}
	return out, nil
}

// canonicalName is a header name in canonical form, so that looking it up
// in an http.Header does not canonicalise (and allocate) per request.
func canonicalName(name string) string {
	if name == "" {
		return ""
	}
	return textproto.CanonicalMIMEHeaderKey(name)
}

// find returns the first credential present in x. A header with the
// source's prefix missing does not count as present.
func (ts tokenSources) find(x *Exchange) (string, bool) {
	for i := range ts {
		s := &ts[i]
		switch {
		case s.Header != "":
			v := x.Header.Get(s.Header)
			if v == "" {
				continue
			}
			if s.Prefix != "" {
				if len(v) < len(s.Prefix) || !strings.EqualFold(v[:len(s.Prefix)], s.Prefix) {
					continue
				}
				v = strings.TrimSpace(v[len(s.Prefix):])
			}
			if v != "" {
				return v, true
			}
		case s.Cookie != "":
			if v, ok := cookieValue(x.Header, s.Cookie); ok && v != "" {
				return v, true
			}
		case s.Query != "":
			if v, ok := queryValue(x.RawQuery, s.Query); ok && v != "" {
				return v, true
			}
		}
	}
	return "", false
}

// errNoHeader is returned for an identity header that would be empty.
var errNoHeader = errors.New("header name must not be empty")
