//go:build edge

package edge

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/edge/edgetest"
)

// pathRoutes is the routing under attack: on host paths.test, Exact /admin
// goes to backend A, Prefix /public to B, and Prefix / (everything else)
// to C.
type pathRoutes struct {
	p       *edgetest.Portico
	a, b, c *edgetest.Backend
}

func startPathRoutes(t *testing.T, extraArgs ...string) (*pathRoutes, error) {
	t.Helper()
	r := &pathRoutes{
		a: edgetest.NewBackend(t, edgetest.WithName("A")),
		b: edgetest.NewBackend(t, edgetest.WithName("B")),
		c: edgetest.NewBackend(t, edgetest.WithName("C")),
	}
	var err error
	r.p, err = edgetest.TryStart(t, map[string]string{"paths.yaml": edgetest.Join(
		edgetest.IngressClass(),
		edgetest.Service("a", r.a.Addr()),
		edgetest.Service("b", r.b.Addr()),
		edgetest.Service("c", r.c.Addr()),
		edgetest.Ingress("paths", "paths.test",
			edgetest.Path{Path: "/admin", Type: "Exact", Service: "a"},
			edgetest.Path{Path: "/public", Type: "Prefix", Service: "b"},
			edgetest.Path{Path: "/", Type: "Prefix", Service: "c"},
		),
	)}, extraArgs...)
	return r, err
}

type pathCase struct {
	name   string
	target string // request-target as sent
	method string // default GET
	// want, when set, is where the request must end: "A", "B", "C" (routed
	// there), "400" or "404" (answered by Portico, nothing forwarded), or
	// "reject" (any 4xx from Portico, nothing forwarded). Several may be
	// joined by "|". "" checks the invariant only.
	want string
	// fwd, when set, is the exact path the backend must receive.
	fwd string
	// local allows Portico to answer 2xx itself without forwarding
	// (OPTIONS * is about the server, RFC 9110 §9.3.7).
	local bool
}

// pathCases: every request must satisfy the routing invariant (see
// checkPathInvariant); want pins down the outcome where the README's "Path
// canonicalisation" and RFC 3986 leave no choice.
func pathCases() []pathCase {
	return []pathCase{
		{name: "control/admin", target: "/admin", want: "A"},
		{name: "control/admin-query", target: "/admin?x=1", want: "A"},
		{name: "control/public", target: "/public", want: "B", fwd: "/public"},
		{name: "control/public-slash", target: "/public/", want: "B", fwd: "/public/"},
		{name: "control/public-x", target: "/public/x", want: "B", fwd: "/public/x"},
		{name: "control/publicity", target: "/publicity", want: "C", fwd: "/publicity"},
		{name: "control/root", target: "/", want: "C", fwd: "/"},
		{name: "control/other", target: "/other", want: "C", fwd: "/other"},
		{name: "exact/trailing-slash", target: "/admin/", want: "C", fwd: "/admin/"},
		{name: "case/ADMIN", target: "/ADMIN", want: "C", fwd: "/ADMIN"},
		{name: "case/Admin", target: "/Admin", want: "C", fwd: "/Admin"},
		{name: "case/PUBLIC-dotdot", target: "/PUBLIC/../admin", want: "A"},
		{name: "slashes/double", target: "//admin", want: "A"},
		{name: "slashes/triple", target: "///admin", want: "A"},
		{name: "slashes/inner", target: "/public//x", want: "B", fwd: "/public/x"},
		{name: "dot/leading", target: "/./admin", want: "A"},
		{name: "dot/trailing", target: "/admin/.", want: "C|400"},
		{name: "dotdot/public-admin", target: "/public/../admin", want: "A"},
		{name: "dotdot/public-dot-dotdot", target: "/public/./../admin", want: "A"},
		{name: "dotdot/public-x-dotdot-dotdot", target: "/public/x/../../admin", want: "A"},
		{name: "dotdot/above-root", target: "/../admin", want: "A"},
		{name: "dotdot/twice-above-root", target: "/public/../../admin", want: "A"},
		{name: "dotdot/admin-self", target: "/admin/../admin", want: "A"},
		{name: "dotdot/admin-up", target: "/admin/..", want: "C", fwd: "/"},
		{name: "dotdot/public-double-slash", target: "/public//../admin"},
		{name: "dotdot/escaped-dots-admin-dotdot", target: "/admin/%2e%2e/admin", want: "A"},
		{name: "pct-dot/lower", target: "/public/%2e%2e/admin", want: "A"},
		{name: "pct-dot/upper", target: "/public/%2E%2E/admin", want: "A"},
		{name: "pct-dot/mixed-1", target: "/public/.%2e/admin", want: "A"},
		{name: "pct-dot/mixed-2", target: "/public/%2e./admin", want: "A"},
		{name: "pct-dot/root", target: "/%2e%2e/admin", want: "A"},
		{name: "pct-dot/single", target: "/%2e/admin", want: "A"},
		{name: "pct-dot/two-levels", target: "/public/%2e%2e/%2e%2e/admin", want: "A"},
		{name: "pct-dot/trailing-dot", target: "/admin%2e", want: "C|400"},
		{name: "pct-unreserved/a", target: "/%61dmin", want: "A"},
		{name: "pct-unreserved/all", target: "/%61%64%6d%69%6e", want: "A"},
		{name: "pct-unreserved/i", target: "/adm%69n", want: "A"},
		{name: "pct-unreserved/upper-A", target: "/%41DMIN", want: "C", fwd: "/ADMIN"},
		{name: "pct-unreserved/public", target: "/%70ublic/x", want: "B", fwd: "/public/x"},
		{name: "pct-slash/dotdot-lower", target: "/public/..%2fadmin"},
		{name: "pct-slash/dotdot-upper", target: "/public/..%2Fadmin"},
		{name: "pct-slash/dots-and-slash", target: "/public/%2e%2e%2fadmin"},
		{name: "pct-slash/all-escaped", target: "/public%2f..%2fadmin"},
		{name: "pct-slash/leading", target: "/%2fadmin"},
		{name: "pct-slash/trailing-lower", target: "/admin%2f"},
		{name: "pct-slash/trailing-upper", target: "/admin%2F"},
		{name: "pct-backslash/dotdot", target: "/public/..%5cadmin"},
		{name: "pct-backslash/dots", target: "/public/%2e%2e%5cadmin"},
		{name: "backslash/dotdot", target: `/public\..\admin`},
		{name: "backslash/leading", target: `/\admin`},
		{name: "backslash/trailing", target: `/admin\`},
		{name: "param/semicolon", target: "/admin;x"},
		{name: "param/semicolon-slash", target: "/admin;/"},
		{name: "param/dotdot-semicolon", target: "/public/..;/admin"},
		{name: "nul/trailing", target: "/admin%00"},
		{name: "nul/extension", target: "/admin%00.html"},
		{name: "nul/public-dotdot", target: "/public%00/../admin"},
		{name: "space/trailing", target: "/admin%20"},
		{name: "space/segment", target: "/%20/admin"},
		{name: "dots/trailing-dots", target: "/admin.."},
		{name: "overlong/dot-c0ae", target: "/public/%c0%ae%c0%ae/admin"},
		{name: "overlong/slash-c0af", target: "/%c0%afadmin"},
		{name: "overlong/dot-e080ae", target: "/public/%e0%80%ae%e0%80%ae/admin"},
		{name: "double-encoding/dots", target: "/public/%252e%252e/admin"},
		{name: "double-encoding/a", target: "/%2561dmin"},
		{name: "fragment/raw", target: "/admin#frag"},
		{name: "fragment/encoded", target: "/admin%23"},
		{name: "query/empty", target: "/admin?", want: "A"},
		{name: "query/encoded-question", target: "/admin%3f"},
		{name: "query/dotdot-in-query", target: "/public/x?/../admin", want: "B", fwd: "/public/x"},
		{name: "absolute-form/admin", target: "http://paths.test/admin", want: "A"},
		{name: "absolute-form/dotdot", target: "http://paths.test/public/../admin", want: "A"},
		{name: "absolute-form/double-slash", target: "http://paths.test//admin", want: "A"},
		{name: "absolute-form/other-host", target: "http://other.test/admin", want: "404"},
		{name: "asterisk/options", target: "*", method: "OPTIONS", local: true},
		{name: "malformed/no-leading-slash", target: "admin", want: "400"},
		{name: "malformed/bad-escape", target: "/admin%zz", want: "400"},
		{name: "malformed/truncated-escape", target: "/admin%", want: "400"},
		{name: "malformed/truncated-escape-2", target: "/admin%2", want: "400"},
		{name: "malformed/iis-unicode", target: "/%u0061dmin", want: "400"},
	}
}

// TestH1PathEncodings sends each request-target to the Exact /admin (A),
// Prefix /public (B), default / (C) routing and checks the invariant
// "routed path == forwarded path": a request reaching A arrives as exactly
// /admin; one reaching B arrives as /public or /public/…; one reaching C is
// neither; every forwarded path is already canonical (README "Path
// canonicalisation"); and no path that decodes to /admin reaches B or C.
func TestH1PathEncodings(t *testing.T) {
	t.Parallel()
	r, err := startPathRoutes(t)
	if err != nil {
		t.Fatal(err)
	}
	cases := pathCases()
	if len(cases) < 60 {
		t.Fatalf("only %d path cases; the suite promises at least 60", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { r.check(t, c, false) })
	}
	r.p.CheckAlive(t)
}

// TestH1PathEscapedSlashes checks --path-escaped-slashes (issue 10, as
// Envoy's path_with_escaped_slashes_action): keep (the default) routes and
// forwards %2F and %5C as they are (upper-cased), reject answers 400,
// decode turns %2F into "/" before canonicalisation.
func TestH1PathEscapedSlashes(t *testing.T) {
	t.Parallel()
	type mode struct {
		flag  string
		cases []pathCase
	}
	modes := []mode{
		{"keep", []pathCase{
			{name: "all-escaped", target: "/public%2f..%2fadmin", want: "C", fwd: "/public%2F..%2Fadmin"},
			{name: "dotdot-slash", target: "/public/..%2Fadmin", want: "B", fwd: "/public/..%2Fadmin"},
			{name: "leading", target: "/%2fadmin", want: "C", fwd: "/%2Fadmin"},
			{name: "trailing", target: "/admin%2f", want: "C", fwd: "/admin%2F"},
			{name: "backslash", target: "/public/..%5cadmin", want: "B", fwd: "/public/..%5Cadmin"},
			{name: "control", target: "/admin", want: "A"},
		}},
		{"reject", []pathCase{
			{name: "all-escaped", target: "/public%2f..%2fadmin", want: "400"},
			{name: "dotdot-slash", target: "/public/..%2Fadmin", want: "400"},
			{name: "leading", target: "/%2fadmin", want: "400"},
			{name: "trailing", target: "/admin%2f", want: "400"},
			{name: "backslash", target: "/public/..%5cadmin", want: "400"},
			{name: "backslash-upper", target: "/admin%5C", want: "400"},
			{name: "control", target: "/admin", want: "A"},
			{name: "control-other-escape", target: "/public/a%20b", want: "B", fwd: "/public/a%20b"},
		}},
		{"decode", []pathCase{
			{name: "all-escaped", target: "/public%2f..%2fadmin", want: "A"},
			{name: "dotdot-slash", target: "/public/..%2Fadmin", want: "A"},
			{name: "leading", target: "/%2fadmin", want: "A"},
			{name: "trailing", target: "/admin%2f", want: "C", fwd: "/admin/"},
			{name: "public-inner", target: "/public%2Fx", want: "B", fwd: "/public/x"},
			{name: "backslash", target: "/public/..%5cadmin"},
			{name: "control", target: "/admin", want: "A"},
		}},
	}
	for _, m := range modes {
		t.Run(m.flag, func(t *testing.T) {
			t.Parallel()
			r, err := startPathRoutes(t, "--path-escaped-slashes="+m.flag)
			if err != nil {
				if strings.Contains(err.Error(), "flag provided but not defined") {
					t.Fatalf("portico standalone has no --path-escaped-slashes flag (it exited with \"flag provided but not defined: -path-escaped-slashes\"): issue 10 asks for --path-escaped-slashes=keep|reject|decode (keep by default), as Envoy offers, to reject or decode %%2F and %%5C")
				}
				t.Fatalf("portico standalone --path-escaped-slashes=%s did not start: %v", m.flag, err)
			}
			for _, c := range m.cases {
				t.Run(c.name, func(t *testing.T) { r.check(t, c, m.flag == "decode") })
			}
		})
	}
}

func (r *pathRoutes) check(t *testing.T, c pathCase, decodeSlashes bool) {
	t.Helper()
	r.p.CheckAlive(t)
	method := c.method
	if method == "" {
		method = "GET"
	}
	raw := edgetest.Req(method, c.target, "paths.test", "Connection: close")
	backends := []*edgetest.Backend{r.a, r.b, r.c}
	marks := make([]int, len(backends))
	for i, b := range backends {
		marks[i] = b.Mark()
	}
	res, err := edgetest.Exchange(r.p.HTTPAddr, raw, time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	time.Sleep(20 * time.Millisecond)
	var got []edgetest.Request
	for i, b := range backends {
		got = append(got, b.Since(marks[i])...)
	}
	problems := pathProblems(c, res, got, decodeSlashes)
	if len(problems) > 0 {
		t.Errorf("sent %s\n  want: %s\n  got: %s\n  backends received:%s\n  problems:\n    - %s",
			quote(raw), describeWant(c), res, listRequests(got), strings.Join(problems, "\n    - "))
	}
}

func describeWant(c pathCase) string {
	s := "the routing invariant (A gets exactly /admin; B gets /public[/…]; C neither; forwarded path canonical; nothing decoding to /admin at B or C)"
	if c.want != "" {
		s += "; outcome " + c.want
	}
	if c.fwd != "" {
		s += "; forwarded path " + c.fwd
	}
	return s
}

func pathProblems(c pathCase, res edgetest.Result, got []edgetest.Request, decodeSlashes bool) []string {
	var problems []string
	first := res.First()
	outcome := ""
	switch {
	case len(got) > 1:
		problems = append(problems, fmt.Sprintf("one request reached the backends %d times", len(got)))
		outcome = got[0].Backend
	case len(got) == 1:
		rq := got[0]
		outcome = rq.Backend
		if first == nil || first.Status != 200 || first.Header.Get("X-Backend") != rq.Backend {
			problems = append(problems, fmt.Sprintf("backend %s received the request but the client got %s", rq.Backend, first))
		}
		problems = append(problems, routedProblems(rq, decodeSlashes)...)
		if c.fwd != "" && rq.Path() != c.fwd {
			problems = append(problems, fmt.Sprintf("backend %s got path %q; want %q", rq.Backend, rq.Path(), c.fwd))
		}
	default:
		switch {
		case first == nil:
			problems = append(problems, "no response and nothing forwarded")
		case c.local && first.Status >= 200 && first.Status < 300:
			// Portico answered about itself.
		case first.Status == 200:
			problems = append(problems, "200 but no backend received the request")
		case first.Status < 400 || first.Status > 499:
			problems = append(problems, fmt.Sprintf("status %d: want a 4xx when nothing is forwarded", first.Status))
		}
		if first != nil {
			outcome = fmt.Sprint(first.Status)
		}
	}
	if c.want != "" && outcome != "" {
		ok := false
		for _, w := range strings.Split(c.want, "|") {
			if w == outcome || w == "reject" && len(got) == 0 && first != nil && first.Status >= 400 && first.Status < 500 {
				ok = true
			}
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("outcome %s; want %s", outcome, c.want))
		}
	}
	return problems
}

// routedProblems checks one forwarded request against the route of the
// backend that got it.
func routedProblems(rq edgetest.Request, decodeSlashes bool) []string {
	var problems []string
	p := rq.Path()
	if canon, ok := canonicalPath(p, decodeSlashes); !ok || canon != p {
		problems = append(problems, fmt.Sprintf("forwarded path %q is not canonical (canonical: %q): the backend sees another path than the one routed", p, canon))
	}
	isPublic := p == "/public" || strings.HasPrefix(p, "/public/")
	switch rq.Backend {
	case "A":
		if p != "/admin" {
			problems = append(problems, fmt.Sprintf("the Exact /admin route forwarded path %q; it must forward exactly /admin", p))
		}
	case "B":
		if !isPublic {
			problems = append(problems, fmt.Sprintf("the Prefix /public route forwarded path %q, which is not /public or under /public/", p))
		}
	case "C":
		if p == "/admin" || isPublic {
			problems = append(problems, fmt.Sprintf("the default route forwarded %q, which the /admin or /public rule matches", p))
		}
	}
	if rq.Backend != "A" && decodesTo(p, "/admin") {
		problems = append(problems, fmt.Sprintf("backend %s received %q, which decodes to /admin", rq.Backend, p))
	}
	return problems
}

// canonicalPath is the README's canonical form, written independently of
// the router: percent-encoded unreserved characters decoded, other escapes
// upper-cased, "//" merged, "." and ".." removed (a trailing slash kept).
// With decodeSlashes, %2F is decoded to "/" first (--path-escaped-slashes=
// decode). ok is false for a path not starting with "/" or with a malformed
// escape.
func canonicalPath(p string, decodeSlashes bool) (string, bool) {
	if p == "" {
		return "/", true
	}
	if p[0] != '/' {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '%' {
			b.WriteByte(p[i])
			continue
		}
		if i+2 >= len(p) || !isHexDigit(p[i+1]) || !isHexDigit(p[i+2]) {
			return "", false
		}
		v := hexVal(p[i+1])<<4 | hexVal(p[i+2])
		switch {
		case isUnreservedByte(v), decodeSlashes && v == '/':
			b.WriteByte(v)
		default:
			b.WriteString("%" + strings.ToUpper(p[i+1:i+3]))
		}
		i += 2
	}
	return removeDots(b.String()), true
}

// decodesTo reports whether p, percent-decoded except %2F and %5C (which
// stay data, as with --path-escaped-slashes=keep), with "//" merged and dot
// segments removed, is want.
func decodesTo(p, want string) bool {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) && isHexDigit(p[i+1]) && isHexDigit(p[i+2]) {
			v := hexVal(p[i+1])<<4 | hexVal(p[i+2])
			if v != '/' && v != '\\' {
				b.WriteByte(v)
				i += 2
				continue
			}
		}
		b.WriteByte(p[i])
	}
	d := b.String()
	if d == "" || d[0] != '/' {
		return false
	}
	return removeDots(d) == want
}

// removeDots merges slashes and removes "." and ".." segments of an
// absolute path, keeping a trailing slash.
func removeDots(p string) string {
	segs := strings.Split(p[1:], "/")
	var out []string
	trailing := false
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case "", ".":
			trailing = last && len(out) > 0
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			trailing = last && len(out) > 0
		default:
			out = append(out, s)
			trailing = false
		}
	}
	res := "/" + strings.Join(out, "/")
	if trailing {
		res += "/"
	}
	return res
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func hexVal(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func isUnreservedByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}
