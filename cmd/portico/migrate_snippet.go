package main

import (
	"fmt"
	"regexp"
	"strings"
)

// Snippets are raw nginx configuration; Portico never executes them. To
// tell a platform team what an Ingress loses, the migrate report
// recognises the directives snippets commonly hold and names what replaces
// each. Anything else is quoted as not recognised.

// snippetFinding is one directive of a snippet: what it did and what
// replaces it in Portico.
type snippetFinding struct {
	Directive string `json:"directive"`
	Did       string `json:"did"`
	Use       string `json:"use,omitempty"`
}

var (
	reSetHeaders  = regexp.MustCompile(`^more_set_headers\s+(.+)$`)
	reAddHeader   = regexp.MustCompile(`^add_header\s+(\S+)\s+(.+?)(\s+always)?$`)
	reReqHeaders  = regexp.MustCompile(`^(more_set_input_headers|proxy_set_header)\s+(.+)$`)
	reClearHeader = regexp.MustCompile(`^(more_clear_headers|proxy_hide_header)\s+(.+)$`)
	reReturn      = regexp.MustCompile(`^return\s+(\d{3})(?:\s+(.+))?$`)
	reRewrite     = regexp.MustCompile(`^rewrite\s+(\S+)\s+(\S+)(?:\s+(last|break|redirect|permanent))?$`)
	reAllowDeny   = regexp.MustCompile(`^(allow|deny)\s+(\S+)$`)
	reBodySize    = regexp.MustCompile(`^client_max_body_size\s+(\S+)$`)
	reTimeout     = regexp.MustCompile(`^proxy_(read|send|connect)_timeout\s+(\S+)$`)
	reLimitReq    = regexp.MustCompile(`^limit_req(_zone)?\b`)
	reIf          = regexp.MustCompile(`^if\s*\(`)
	reAuthBasic   = regexp.MustCompile(`^auth_basic(_user_file)?\b`)
	reAuthRequest = regexp.MustCompile(`^auth_request\b`)
	reLocation    = regexp.MustCompile(`^location\b`)
	reGzip        = regexp.MustCompile(`^gzip\b`)
	reSubFilter   = regexp.MustCompile(`^sub_filter\b`)
	reErrorPage   = regexp.MustCompile(`^error_page\b`)
	reBuffering   = regexp.MustCompile(`^proxy_(request_)?buffering\s+(on|off)$`)
)

// recogniseSnippet splits a snippet into directives and says what each
// did. Braces of blocks (if, location) are reported with their opening
// directive; their bodies are not interpreted.
func recogniseSnippet(s string) []snippetFinding {
	var out []snippetFinding
	depth := 0
	for _, d := range splitDirectives(s) {
		switch {
		case d == "}":
			depth = max(0, depth-1)
			continue
		case depth > 0:
			if strings.HasSuffix(d, "{") {
				depth++
			}
			continue
		}
		f := recogniseDirective(strings.TrimSpace(strings.TrimSuffix(d, "{")))
		if strings.HasSuffix(d, "{") {
			depth++
		}
		out = append(out, f)
	}
	return out
}

// splitDirectives cuts nginx configuration at ";", "{" and "}" outside
// quotes, dropping comments and blank pieces. Opening braces stay on
// their directive; closing ones are pieces of their own.
func splitDirectives(s string) []string {
	var out []string
	var cur strings.Builder
	var quote byte
	flush := func(suffix string) {
		d := strings.Join(strings.Fields(cur.String()), " ")
		cur.Reset()
		if d != "" || suffix == "}" {
			out = append(out, strings.TrimSpace(d+" "+suffix))
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			cur.WriteByte(c)
			if c == quote && (i == 0 || s[i-1] != '\\') {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
			cur.WriteByte(c)
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == ';':
			flush("")
		case c == '{':
			flush("{")
		case c == '}':
			flush("")
			out = append(out, "}")
		default:
			cur.WriteByte(c)
		}
	}
	flush("")
	return out
}

func recogniseDirective(d string) snippetFinding {
	f := snippetFinding{Directive: d}
	unq := func(v string) string { return strings.Trim(strings.TrimSpace(v), `"'`) }
	switch {
	case reSetHeaders.MatchString(d):
		f.Did = "set response headers " + unq(reSetHeaders.FindStringSubmatch(d)[1])
		f.Use = "a response header filter (HTTPRoute ResponseHeaderModifier)"
	case reAddHeader.MatchString(d):
		m := reAddHeader.FindStringSubmatch(d)
		f.Did = fmt.Sprintf("added response header %s: %s", unq(m[1]), unq(m[2]))
		f.Use = "a response header filter (HTTPRoute ResponseHeaderModifier)"
		if strings.EqualFold(unq(m[1]), "Strict-Transport-Security") {
			f.Use = "the hsts ConfigMap keys or portico.dev/hsts"
		}
	case reReqHeaders.MatchString(d):
		f.Did = "set request headers " + unq(reReqHeaders.FindStringSubmatch(d)[2])
		f.Use = "a request header filter (HTTPRoute RequestHeaderModifier), or upstream-vhost for Host"
	case reClearHeader.MatchString(d):
		f.Did = "removed headers " + unq(reClearHeader.FindStringSubmatch(d)[2])
		f.Use = "a header filter's remove list (HTTPRoute RequestHeaderModifier/ResponseHeaderModifier)"
	case reReturn.MatchString(d):
		m := reReturn.FindStringSubmatch(d)
		switch m[1] {
		case "301", "308":
			f.Did, f.Use = "redirected permanently to "+unq(m[2]), "permanent-redirect (with permanent-redirect-code)"
		case "302", "303", "307":
			f.Did, f.Use = "redirected temporarily to "+unq(m[2]), "temporal-redirect"
		case "403", "401":
			f.Did, f.Use = "answered "+m[1], "an authorization policy (SecurityPolicy) or denylist-source-range"
		default:
			f.Did, f.Use = "answered "+m[1]+" directly", "a Portico policy or route; no direct equivalent"
		}
	case reRewrite.MatchString(d):
		m := reRewrite.FindStringSubmatch(d)
		f.Did = fmt.Sprintf("rewrote paths matching %s to %s", m[1], m[2])
		f.Use = "rewrite-target with use-regex capture groups"
		if m[3] == "permanent" || m[3] == "redirect" {
			f.Use = "permanent-redirect or temporal-redirect"
		}
	case reAllowDeny.MatchString(d):
		m := reAllowDeny.FindStringSubmatch(d)
		if m[1] == "allow" {
			f.Did = "allowed clients from " + m[2]
			f.Use = "whitelist-source-range (allowlist-source-range) or an authorization policy"
		} else {
			f.Did = "denied clients from " + m[2]
			f.Use = "denylist-source-range, or whitelist-source-range when it follows allow rules"
		}
	case reBodySize.MatchString(d):
		f.Did, f.Use = "limited request bodies to "+reBodySize.FindStringSubmatch(d)[1], "proxy-body-size"
	case reTimeout.MatchString(d):
		m := reTimeout.FindStringSubmatch(d)
		f.Did, f.Use = fmt.Sprintf("set the upstream %s timeout to %s", m[1], m[2]), "proxy-"+m[1]+"-timeout"
	case reBuffering.MatchString(d):
		f.Did, f.Use = "turned "+d, "proxy-buffering / proxy-request-buffering"
	case reLimitReq.MatchString(d):
		f.Did, f.Use = "rate-limited requests", "limit-rps / limit-rpm, or a TrafficPolicy rate limit"
	case reAuthBasic.MatchString(d):
		f.Did, f.Use = "required HTTP basic authentication", "auth-type: basic with auth-secret"
	case reAuthRequest.MatchString(d):
		f.Did, f.Use = "authenticated through a subrequest", "auth-url"
	case reGzip.MatchString(d):
		f.Did, f.Use = "configured gzip compression", "not available yet (response compression is planned)"
	case reErrorPage.MatchString(d):
		f.Did, f.Use = "replaced error pages", "custom-http-errors with default-backend"
	case reSubFilter.MatchString(d):
		f.Did, f.Use = "rewrote response bodies", "no equivalent: Portico does not modify bodies"
	case reIf.MatchString(d):
		f.Did, f.Use = "applied a condition (if block)", "a route match on headers or query (HTTPRoute), or a policy; review by hand"
	case reLocation.MatchString(d):
		f.Did, f.Use = "added a location block", "a path of its own in an Ingress or HTTPRoute; review by hand"
	default:
		f.Did = "not recognised"
		f.Use = "review by hand"
	}
	return f
}
