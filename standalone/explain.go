package standalone

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/dataplane"
	"github.com/portico-dev/portico/router"
)

// Live is what `portico explain`, /debug/explain and /dashboard read: the
// data plane serving a table (or holding one that would be served), the
// problems of the translation behind it, and when changes went live.
type Live struct {
	Dataplane *dataplane.Dataplane
	// Problems returns the problems of the translation being served; nil
	// reports none.
	Problems func() []translate.Problem
	// Applied, when set, says when each object's latest change went live.
	Applied *dataplane.AppliedLog
	// HTTPAddr and HTTPSAddr are the shared listeners' addresses, shown
	// on the dashboard.
	HTTPAddr, HTTPSAddr string
}

// ExplainQuery is one request to explain.
type ExplainQuery struct {
	// URL is absolute: its scheme picks HTTP or HTTPS, its host the Host
	// header, its port (or the scheme's) the listeners considered.
	URL    string
	Method string
	// Headers are "Name: value" lines.
	Headers []string
	// SNI is the TLS server name (default: the URL's host).
	SNI string
	// Listener, when set, forces a listener key ("ingress" or "" lets
	// Explain choose; see Explain).
	Listener string
}

// ExplainView is the answer of `portico explain` and /debug/explain.
type ExplainView struct {
	Request  string `json:"request"`
	Listener string `json:"listener"`
	// OtherListeners are the listeners also considered for the port, with
	// what each would do.
	OtherListeners []string `json:"otherListeners,omitempty"`
	// Admission, when set, is the answer of the listener's certificate
	// policy before routing (421 or 403).
	Admission   string         `json:"admission,omitempty"`
	Passthrough *RouteView     `json:"passthrough,omitempty"`
	Host        HostView       `json:"host"`
	Candidates  []CandidateRow `json:"candidates"`
	Winner      *RouteView     `json:"winner,omitempty"`
	// Default says the winner is the default backend.
	Default bool `json:"default,omitempty"`
	// Outcome says what the client gets, in a line.
	Outcome  string              `json:"outcome"`
	Problems []translate.Problem `json:"problems"`
}

// HostView is how the request's host was matched.
type HostView struct {
	Host string `json:"host"`
	// Match is exact, wildcard (one label or any labels), any (rules
	// without host) or none; Pattern the configured host.
	Match   string `json:"match"`
	Pattern string `json:"pattern,omitempty"`
	Routes  int    `json:"routes"`
	// Shadowed are the less specific hosts that match too, but are not
	// consulted (Portico never falls back to them).
	Shadowed []string `json:"shadowed,omitempty"`
}

// CandidateRow is one route of the selected host and the verdict on it.
type CandidateRow struct {
	Source  string `json:"source"`
	Match   string `json:"match"`
	Tried   bool   `json:"tried"`
	Matched bool   `json:"matched"`
	Winner  bool   `json:"winner,omitempty"`
	Reason  string `json:"reason"`
}

// Explain traces how the live table routes q. Without q.Listener it
// considers the shared listener and the Gateway listeners on the URL's
// port with the URL's scheme, and picks the one whose host match is most
// specific (the shared listener on a tie): which one really answers
// depends on the address connected to, so the others are listed too.
func (l Live) Explain(q ExplainQuery) (ExplainView, error) {
	t := l.Dataplane.Router.Table()
	if t == nil {
		return ExplainView{}, fmt.Errorf("no routing table loaded yet")
	}
	u, err := url.Parse(q.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return ExplainView{}, fmt.Errorf("want an absolute http:// or https:// URL, not %q", q.URL)
	}
	header := http.Header{}
	for _, h := range q.Headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return ExplainView{}, fmt.Errorf("header %q: want \"Name: value\"", h)
		}
		header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	overTLS := u.Scheme == "https"
	port := u.Port()
	if port == "" {
		port = map[bool]string{false: "80", true: "443"}[overTLS]
	}
	method := strings.ToUpper(q.Method)
	if method == "" {
		method = http.MethodGet
	}
	req := router.ExplainRequest{Host: u.Host, Path: u.EscapedPath(), Method: method, Header: header, RawQuery: u.RawQuery, TLS: overTLS, SNI: q.SNI}
	var keys []string
	switch q.Listener {
	case "", "ingress":
		keys = append(keys, "")
		if q.Listener == "" {
			for _, k := range t.Listeners() {
				if _, _, _, p, ok := router.ParseListenerKey(k); ok && strconv.Itoa(int(p)) == port && l.Dataplane.ListenerTLS(k) == overTLS {
					keys = append(keys, k)
				}
			}
		}
	default:
		keys = append(keys, q.Listener)
	}
	var best router.Explanation
	bestKey, bestRank := "", -1
	exps := map[string]router.Explanation{}
	for _, k := range keys {
		req.Listener = k
		e := t.Explain(req)
		exps[k] = e
		if r := hostRank(e); r > bestRank {
			best, bestKey, bestRank = e, k, r
		}
	}
	v := ExplainView{Request: method + " " + u.String(), Listener: listenerName(bestKey, u.Scheme, port), Candidates: []CandidateRow{}}
	for _, k := range keys {
		if k != bestKey {
			v.OtherListeners = append(v.OtherListeners, listenerName(k, u.Scheme, port)+": "+briefOutcome(exps[k]))
		}
	}
	sni := q.SNI
	if sni == "" {
		sni = u.Hostname()
	}
	switch code := l.Dataplane.Admission(bestKey, overTLS, sni, u.Host); code {
	case 0:
	case http.StatusMisdirectedRequest:
		v.Admission = "421 Misdirected Request: the TLS server name " + sni + " does not cover the host " + u.Hostname()
	default:
		v.Admission = strconv.Itoa(code) + " " + http.StatusText(code) + ": the host requires a client certificate"
	}
	l.fill(&v, best, u.Scheme)
	return v, nil
}

// hostRank orders explanations by how specifically their listener
// matched the host.
func hostRank(e router.Explanation) int {
	switch {
	case e.Passthrough != nil:
		return 4
	case len(e.Hosts) == 0:
		return 0
	case e.Hosts[0].Match == router.HostExact:
		return 3
	case e.Hosts[0].Match == router.HostAny:
		return 1
	}
	return 2
}

func listenerName(key, scheme, port string) string {
	if key == "" {
		return "shared Ingress listener (" + scheme + ", port " + port + ")"
	}
	return key + " (" + scheme + ")"
}

func briefOutcome(e router.Explanation) string {
	switch {
	case e.Passthrough != nil:
		return "TLS passthrough by " + e.Passthrough.Source.String()
	case e.Winner == nil:
		return "no route (404)"
	}
	return "served by " + e.Winner.Source.String()
}

// fill completes v from the chosen listener's explanation.
func (l Live) fill(v *ExplainView, e router.Explanation, scheme string) {
	v.Host = HostView{Host: e.Host, Match: "none"}
	if len(e.Hosts) > 0 {
		h := e.Hosts[0]
		v.Host.Match, v.Host.Pattern, v.Host.Routes = hostMatchName(h.Match), h.Pattern, h.Routes
		for _, s := range e.Hosts[1:] {
			v.Host.Shadowed = append(v.Host.Shadowed, hostPattern(s))
		}
	}
	involved := map[translate.ObjectRef]bool{}
	note := func(s router.Source) {
		involved[translate.ObjectRef{Kind: s.Kind, Namespace: s.Namespace, Name: s.Name}] = true
	}
	for _, c := range e.Candidates {
		note(c.Route.Source)
		v.Candidates = append(v.Candidates, CandidateRow{Source: c.Route.Source.String(), Match: c.Route.MatchText(), Tried: c.Tried,
			Matched: c.Matched, Winner: c.Route == e.Winner, Reason: c.Reason})
	}
	switch {
	case e.PathError != "":
		v.Outcome = e.PathError
	case e.Passthrough != nil:
		note(e.Passthrough.Source)
		p := routeView(e.Passthrough.Source, "SNI passthrough", e.Passthrough.Backends)
		v.Passthrough = &p
		v.Outcome = "the TLS connection is forwarded unterminated to " + backendList(p.Backends)
	case e.Winner == nil:
		v.Outcome = "404: no route for this host and path"
	default:
		note(e.Winner.Source)
		w := routeView(e.Winner.Source, e.Winner.MatchText(), e.Winner.Backends)
		w.Listener, w.Host, w.Path = e.Winner.Listener, e.Winner.Host, e.Winner.Path
		w.HTTPSRedirect, w.HSTS, w.Filters, w.Policy = e.Winner.HTTPSRedirect, e.Winner.HSTS, filterNames(e.Winner.Route), policyView(e.Winner.Policy)
		v.Winner, v.Default = &w, e.Default
		v.Outcome = outcome(e.Winner, &w, scheme)
	}
	if v.Admission != "" {
		v.Outcome = v.Admission
	}
	v.Problems = []translate.Problem{}
	if l.Problems != nil {
		for _, p := range l.Problems() {
			if involved[p.Object] {
				v.Problems = append(v.Problems, p)
			}
		}
	}
}

func hostMatchName(m router.HostMatch) string {
	switch m {
	case router.HostExact:
		return "exact"
	case router.HostWildcardOneLabel:
		return "wildcard (one label)"
	case router.HostWildcardAnyLabels:
		return "wildcard (any labels)"
	}
	return "any (rules without host)"
}

func hostPattern(h router.HostCandidate) string {
	if h.Match == router.HostAny {
		return "(rules without host)"
	}
	return h.Pattern
}

// routeView renders a route's backends as `portico routes` does.
func routeView(src router.Source, match string, wbs []router.WeightedBackend) RouteView {
	v := RouteView{Source: src.String(), Match: match, Backends: []BackendView{}}
	for _, wb := range wbs {
		if wb.Backend == nil {
			continue
		}
		bv := BackendView{Name: wb.Backend.Name, Weight: wb.Weight, Protocol: wb.Backend.Protocol.String(), Endpoints: []string{},
			Status: wb.Backend.Status, Reason: wb.Backend.Reason}
		for _, ep := range wb.Backend.Endpoints {
			bv.Endpoints = append(bv.Endpoints, ep.Address)
		}
		v.Backends = append(v.Backends, bv)
	}
	return v
}

// outcome says what the client gets from the winning route.
func outcome(r *router.CompiledRoute, w *RouteView, scheme string) string {
	switch {
	case scheme == "http" && r.HTTPSRedirect:
		return "308: redirected to https"
	case r.Redirect != nil:
		code := r.Redirect.StatusCode
		if code == 0 {
			code = http.StatusFound
		}
		return strconv.Itoa(code) + ": redirected (" + strings.Join(filterNames(r.Route), ", ") + ")"
	}
	ready := slices.ContainsFunc(w.Backends, func(b BackendView) bool { return b.Status == 0 && len(b.Endpoints) > 0 })
	if !ready {
		return "503: no backend with a ready endpoint"
	}
	return "proxied to " + backendList(w.Backends)
}

func backendList(bs []BackendView) string {
	var out []string
	for _, b := range bs {
		s := fmt.Sprintf("%s (%d ready)", b.Name, len(b.Endpoints))
		if b.Status != 0 {
			s = fmt.Sprintf("%s (answers %d)", b.Name, b.Status)
		}
		if len(bs) > 1 {
			s += fmt.Sprintf(" weight %d", b.Weight)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return "no backend"
	}
	return strings.Join(out, ", ")
}
