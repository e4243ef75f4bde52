package translate

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	istionet "istio.io/api/networking/v1alpha3"

	"github.com/portico-dev/portico/router"
)

// vsHTTP emits a VirtualService's http rules on an HTTP server, in rule
// order: every path becomes an anchored regular expression, so the router
// tries them in the order written, as Istio does.
func (t *istioProcessor) vsHTTP(in vsInput, b boundServer) {
	for i, h := range in.vs.Spec.GetHttp() {
		field := fmt.Sprintf("spec.http[%d]", i)
		if h.GetDelegate() != nil || h.GetDirectResponse() != nil {
			continue
		}
		base, err := t.httpActions(in, i, h, b)
		if err != nil {
			t.problem(in.ref, field, SeverityError, reasonInvalidField, err.Error()+"; the rule is skipped")
			continue
		}
		matches := h.GetMatch()
		if len(matches) == 0 {
			matches = []*istionet.HTTPMatchRequest{nil}
		}
		for j, m := range matches {
			mf := fmt.Sprintf("%s.match[%d]", field, j)
			if m != nil && (m.GetPort() != 0 && int32(m.GetPort()) != b.port ||
				len(m.GetGateways()) > 0 && !slices.Contains(m.GetGateways(), b.gwName) && !slices.Contains(m.GetGateways(), strings.TrimPrefix(b.gwName, in.vs.Namespace+"/"))) {
				continue
			}
			r := base
			r.Source.Path = j
			hosts, err := t.applyHTTPMatch(&r, m, b, base.Rewrite)
			if err != nil {
				t.problem(in.ref, mf, SeverityError, reasonInvalidField, err.Error()+"; the match is skipped")
				continue
			}
			for _, host := range hosts {
				hr := r
				hr.Host, hr.HostMatch = routerHost(host)
				t.res.Config.Routes = append(t.res.Config.Routes, hr)
			}
		}
	}
}

// applyHTTPMatch sets the route's path and predicates from one match and
// returns the hosts it applies to (an exact authority narrows them).
func (t *istioProcessor) applyHTTPMatch(r *router.Route, m *istionet.HTTPMatchRequest, b boundServer, rw *router.Rewrite) ([]string, error) {
	r.Path, r.PathMatch = ".*", router.PathRegularExpression
	hosts := b.hosts
	if m == nil {
		t.finishRewrite(r, rw, "/")
		return hosts, r.Validate()
	}
	if re, ok := stringMatchRegex(m.GetUri()); ok {
		r.Path = re
	}
	if m.GetIgnoreUriCase() {
		r.Path = "(?i)" + r.Path
	}
	prefix := "/"
	switch u := m.GetUri().GetMatchType().(type) {
	case *istionet.StringMatch_Prefix:
		prefix = u.Prefix
	case *istionet.StringMatch_Exact, *istionet.StringMatch_Regex:
		prefix = ""
	}
	t.finishRewrite(r, rw, prefix)
	if mm := m.GetMethod(); mm != nil {
		ex, ok := mm.GetMatchType().(*istionet.StringMatch_Exact)
		if !ok {
			return nil, fmt.Errorf("method: only exact matches are supported")
		}
		r.Method = strings.ToUpper(ex.Exact)
	}
	if a := m.GetAuthority(); a != nil {
		re, _ := stringMatchRegex(a)
		arx, err := regexp.Compile("^(?:" + re + ")$")
		if err != nil {
			return nil, fmt.Errorf("authority: %w", err)
		}
		var narrowed []string
		for _, h := range hosts {
			if arx.MatchString(h) {
				narrowed = append(narrowed, h)
			} else if ex, ok := a.GetMatchType().(*istionet.StringMatch_Exact); ok && (h == "*" || strings.HasPrefix(h, "*.") && hostMatchesWildcard(strings.ToLower(ex.Exact), h)) {
				narrowed = append(narrowed, strings.ToLower(ex.Exact))
			}
		}
		hosts = narrowed
	}
	if s := m.GetScheme(); s != nil {
		re, _ := stringMatchRegex(s)
		scheme := "http"
		if m := b.srv.GetTls().GetMode(); strings.EqualFold(b.srv.GetPort().GetProtocol(), "HTTPS") && m != istionet.ServerTLSSettings_PASSTHROUGH {
			scheme = "https"
		}
		srx, err := regexp.Compile("^(?:" + re + ")$")
		if err != nil {
			return nil, fmt.Errorf("scheme: %w", err)
		}
		if !srx.MatchString(scheme) {
			return nil, nil // never matches on this server
		}
	}
	for _, k := range sortedKeys(m.GetHeaders()) {
		vm := valueMatch(k, m.GetHeaders()[k])
		r.Headers = append(r.Headers, vm)
	}
	for _, k := range sortedKeys(m.GetWithoutHeaders()) {
		vm := valueMatch(k, m.GetWithoutHeaders()[k])
		vm.Invert = true
		r.Headers = append(r.Headers, vm)
	}
	for _, k := range sortedKeys(m.GetQueryParams()) {
		vm := valueMatch(k, m.GetQueryParams()[k])
		r.QueryParams = append(r.QueryParams, vm)
	}
	return hosts, r.Validate()
}

// finishRewrite completes a uri rewrite for the match's kind: after a
// prefix match the matched prefix is replaced, otherwise the whole path.
func (t *istioProcessor) finishRewrite(r *router.Route, rw *router.Rewrite, prefix string) {
	if rw == nil || rw.Path == nil || rw.Path.Regex != "" {
		return
	}
	c := *rw
	p := *rw.Path
	p.StringPrefix = prefix
	c.Path = &p
	r.Rewrite = &c
}

// httpActions converts what an http rule does: route or redirect, rewrite,
// headers, timeouts, retries, fault, mirrors, CORS.
func (t *istioProcessor) httpActions(in vsInput, rule int, h *istionet.HTTPRoute, b boundServer) (router.Route, error) {
	field := fmt.Sprintf("spec.http[%d]", rule)
	r := router.Route{Listener: b.key, ListenerPort: b.port,
		Source: router.Source{Kind: KindVirtualService, Namespace: in.vs.Namespace, Name: in.vs.Name, Rule: rule}}
	switch {
	case h.GetRedirect() != nil:
		rd := h.GetRedirect()
		r.Redirect = &router.Redirect{Scheme: rd.GetScheme(), Hostname: rd.GetAuthority(), Port: int32(rd.GetPort()), StatusCode: int(rd.GetRedirectCode())}
		if r.Redirect.StatusCode == 0 {
			r.Redirect.StatusCode = 301
		}
		if rd.GetUri() != "" {
			r.Redirect.Path = &router.PathModifier{Value: rd.GetUri()}
		}
		if len(h.GetRoute()) > 0 {
			t.problem(in.ref, field+".route", SeverityWarning, reasonInvalidField, "route is ignored when redirect is set")
		}
	case len(h.GetRoute()) > 0:
		r.Backends = t.destinationBackends(in, field, h.GetRoute())
	default:
		return r, fmt.Errorf("a rule needs route or redirect")
	}
	if b.srv.GetTls().GetHttpsRedirect() {
		r.HTTPSRedirect = true
	}
	if rw := h.GetRewrite(); rw != nil {
		r.Rewrite = &router.Rewrite{Hostname: rw.GetAuthority()}
		switch {
		case rw.GetUriRegexRewrite() != nil:
			rr := rw.GetUriRegexRewrite()
			r.Rewrite.Path = &router.PathModifier{Regex: rr.GetMatch(), Value: istioBackrefs(rr.GetRewrite())}
		case rw.GetUri() != "":
			r.Rewrite.Path = &router.PathModifier{Value: rw.GetUri()}
		}
	}
	if hs := h.GetHeaders(); hs != nil {
		r.RequestHeaders, r.ResponseHeaders = istioHeaderOps(hs.GetRequest()), istioHeaderOps(hs.GetResponse())
	}
	if d := h.GetTimeout(); d != nil {
		r.Timeout = d.AsDuration()
	}
	if rt := h.GetRetries(); rt != nil && rt.GetAttempts() > 0 {
		r.Retry = istioRetry(rt)
		if d := rt.GetPerTryTimeout(); d != nil {
			r.BackendTimeout = d.AsDuration()
		}
	}
	if f := h.GetFault(); f != nil {
		r.Fault = istioFault(f)
	}
	mirrors := h.GetMirrors()
	if m := h.GetMirror(); m != nil {
		mirrors = append([]*istionet.HTTPMirrorPolicy{{Destination: m, Percentage: h.GetMirrorPercentage()}}, mirrors...)
	}
	for i, m := range mirrors {
		frac := 1.0
		if p := m.GetPercentage(); p != nil {
			frac = p.GetValue() / 100
		}
		be := t.istioDestination(in, fmt.Sprintf("%s.mirrors[%d].destination", field, i), m.GetDestination())
		r.Mirrors = append(r.Mirrors, router.Mirror{Backend: be, Fraction: frac})
	}
	if c := h.GetCorsPolicy(); c != nil {
		r.CORS = t.istioCORS(in, field+".corsPolicy", c)
	}
	return r, nil
}

// istioBackrefs turns RE2 rewrite references (\1) into Go's (${1}).
func istioBackrefs(s string) string {
	return regexp.MustCompile(`\\(\d+)`).ReplaceAllString(s, `$${$1}`)
}

// istioRetry maps attempts and retryOn to a retry policy. Connection
// failures and timeouts of an attempt are always retried.
func istioRetry(rt *istionet.HTTPRetry) *router.Retry {
	r := &router.Retry{Attempts: int(rt.GetAttempts()), Backoff: 25 * time.Millisecond}
	if d := rt.GetBackoff(); d != nil {
		r.Backoff = d.AsDuration()
	}
	on := rt.GetRetryOn()
	if on == "" {
		on = "connect-failure,refused-stream,unavailable,cancelled,503"
	}
	add := func(codes ...int) {
		for _, c := range codes {
			if !slices.Contains(r.Codes, c) {
				r.Codes = append(r.Codes, c)
			}
		}
	}
	for _, p := range strings.Split(on, ",") {
		switch p = strings.TrimSpace(p); p {
		case "5xx":
			for c := 500; c <= 511; c++ {
				add(c)
			}
		case "gateway-error":
			add(502, 503, 504)
		case "retriable-4xx":
			add(409)
		default:
			if c, err := strconv.Atoi(p); err == nil {
				add(c)
			}
		}
	}
	slices.Sort(r.Codes)
	return r
}

func istioFault(f *istionet.HTTPFaultInjection) *router.Fault {
	out := &router.Fault{}
	if d := f.GetDelay(); d != nil {
		out.Delay, out.DelayPercent = d.GetFixedDelay().AsDuration(), 100
		if p := d.GetPercentage(); p != nil {
			out.DelayPercent = p.GetValue()
		} else if pct := d.GetPercent(); pct != 0 { //nolint:staticcheck // deprecated, still written by users
			out.DelayPercent = float64(pct)
		}
	}
	if a := f.GetAbort(); a != nil && a.GetHttpStatus() != 0 {
		out.AbortStatus, out.AbortPercent = int(a.GetHttpStatus()), 100
		if p := a.GetPercentage(); p != nil {
			out.AbortPercent = p.GetValue()
		}
	}
	return out
}

// istioCORS maps a corsPolicy; origins matched by prefix or regex cannot be
// expressed and are reported.
func (t *istioProcessor) istioCORS(in vsInput, field string, c *istionet.CorsPolicy) *router.CORS {
	//nolint:staticcheck // allowOrigin is deprecated but still written by users
	out := &router.CORS{AllowOrigins: slices.Clone(c.GetAllowOrigin()), AllowMethods: c.GetAllowMethods(),
		AllowHeaders: c.GetAllowHeaders(), ExposeHeaders: c.GetExposeHeaders(), AllowCredentials: c.GetAllowCredentials().GetValue()}
	for i, o := range c.GetAllowOrigins() {
		if ex, ok := o.GetMatchType().(*istionet.StringMatch_Exact); ok {
			out.AllowOrigins = append(out.AllowOrigins, ex.Exact)
			continue
		}
		t.problem(in.ref, fmt.Sprintf("%s.allowOrigins[%d]", field, i), SeverityWarning, reasonUnsupportedField,
			"only exact origins are supported; this one is ignored")
	}
	if d := c.GetMaxAge(); d != nil {
		out.MaxAge = int32(d.AsDuration().Seconds())
	}
	return out
}

// vsTLS emits tls rules on a passthrough server: SNI hosts to backends.
func (t *istioProcessor) vsTLS(in vsInput, b boundServer) {
	for i, rule := range in.vs.Spec.GetTls() {
		field := fmt.Sprintf("spec.tls[%d]", i)
		backends := t.l4Backends(in, field, rule.GetRoute())
		src := router.Source{Kind: KindVirtualService, Namespace: in.vs.Namespace, Name: in.vs.Name, Rule: i, Path: -1}
		for j, m := range rule.GetMatch() {
			if m.GetPort() != 0 && int32(m.GetPort()) != b.port {
				continue
			}
			for _, sni := range m.GetSniHosts() {
				sni = strings.ToLower(sni)
				if !hostAllowed(sni, b.hosts) {
					t.problem(in.ref, fmt.Sprintf("%s.match[%d].sniHosts", field, j), SeverityWarning, "NoMatchingHost",
						fmt.Sprintf("SNI host %s is not among the hosts the server exposes for this VirtualService", sni))
					continue
				}
				host, hm := routerHost(sni)
				t.res.Config.Passthrough = append(t.res.Config.Passthrough, router.L4Route{Listener: b.key, Host: host, HostMatch: hm,
					Backends: backends, Source: src})
			}
		}
	}
}

func hostAllowed(h string, hosts []string) bool {
	for _, a := range hosts {
		if a == h || a == "*" || strings.HasPrefix(a, "*.") && hostMatchesWildcard(h, a) {
			return true
		}
	}
	return false
}

// vsTCP emits the first tcp rule that matches the server's port.
func (t *istioProcessor) vsTCP(in vsInput, b boundServer) {
	for i, rule := range in.vs.Spec.GetTcp() {
		matches := len(rule.GetMatch()) == 0
		for _, m := range rule.GetMatch() {
			if m.GetPort() == 0 || int32(m.GetPort()) == b.port {
				matches = true
			}
		}
		if !matches {
			continue
		}
		field := fmt.Sprintf("spec.tcp[%d]", i)
		t.res.Config.TCP = append(t.res.Config.TCP, router.L4Route{Listener: b.key, Backends: t.l4Backends(in, field, rule.GetRoute()),
			Source: router.Source{Kind: KindVirtualService, Namespace: in.vs.Namespace, Name: in.vs.Name, Rule: i, Path: -1}})
		return
	}
}
