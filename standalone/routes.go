package standalone

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/dataplane"
	"github.com/portico-dev/portico/router"
)

// RouteView is one row of `portico routes`.
type RouteView struct {
	Listener string        `json:"listener"`
	Host     string        `json:"host"`
	Path     string        `json:"path"`
	Match    string        `json:"match"`
	Backends []BackendView `json:"backends"`
	Source   string        `json:"source"`
	// HTTPSRedirect and HSTS describe TLS behaviour of HTTP routes.
	HTTPSRedirect bool   `json:"httpsRedirect,omitempty"`
	HSTS          string `json:"hsts,omitempty"`
	// Filters name what the route does besides forwarding.
	Filters []string `json:"filters,omitempty"`
	// Policy is the route's effective API-gateway policy.
	Policy *PolicyView `json:"policy,omitempty"`
}

// CertView is a certificate being served.
type CertView struct {
	Hosts    []string `json:"hosts"`
	Source   string   `json:"source"`
	Subject  string   `json:"subject"`
	NotAfter string   `json:"notAfter"`
	ClientCA string   `json:"clientCA,omitempty"`
}

// BackendView is a backend of a route with its weight and endpoints.
type BackendView struct {
	Name string `json:"name"`
	// Status and Reason are set for an invalid backend answering Status.
	Status    int      `json:"status,omitempty"`
	Reason    string   `json:"reason,omitempty"`
	Weight    uint32   `json:"weight"`
	Protocol  string   `json:"protocol"`
	Endpoints []string `json:"endpoints"`
}

// Report is what `portico routes` prints.
type Report struct {
	Routes       []RouteView         `json:"routes"`
	Certificates []CertView          `json:"certificates"`
	Problems     []translate.Problem `json:"problems"`
	// Statuses are the Gateway API statuses Portico would write.
	Statuses []StatusView `json:"statuses"`
	// Applied, when asked for (portico routes --applied), is a running
	// Portico's /debug/applied: which table generation serves each object.
	Applied []dataplane.Applied `json:"applied,omitempty"`
}

// StatusView is the status of one Gateway API object (or one listener or
// route parent of it).
type StatusView struct {
	Object     string   `json:"object"`
	Healthy    bool     `json:"healthy"`
	Conditions []string `json:"conditions"`
}

// Describe renders a compiled table and the translation's certificates and
// problems.
func Describe(t *router.Table, res *translate.Result) Report {
	rep := Report{Problems: res.Problems, Certificates: []CertView{}, Statuses: gatewayStatuses(res)}
	if rep.Problems == nil {
		rep.Problems = []translate.Problem{}
	}
	for _, c := range res.Certificates {
		rep.Certificates = append(rep.Certificates, CertView{Hosts: c.Hosts, Source: c.Source, ClientCA: c.ClientCASource,
			Subject: c.Cert.Leaf.Subject.CommonName, NotAfter: c.Cert.Leaf.NotAfter.UTC().Format("2006-01-02T15:04:05Z")})
	}
	add := func(listener, host, path, match string, wbs []router.WeightedBackend, src router.Source) *RouteView {
		v := RouteView{Listener: listener, Host: host, Path: path, Match: match, Source: src.String()}
		for _, wb := range wbs {
			if wb.Backend == nil {
				continue
			}
			bv := BackendView{Name: wb.Backend.Name, Weight: wb.Weight, Protocol: wb.Backend.Protocol.String(), Endpoints: []string{},
				Status: wb.Backend.Status, Reason: wb.Backend.Reason}
			for _, e := range wb.Backend.Endpoints {
				bv.Endpoints = append(bv.Endpoints, e.Address)
			}
			v.Backends = append(v.Backends, bv)
		}
		if v.Backends == nil {
			v.Backends = []BackendView{}
		}
		rep.Routes = append(rep.Routes, v)
		return &rep.Routes[len(rep.Routes)-1]
	}
	for _, r := range t.Routes() {
		host := r.Host
		if r.HostMatch == router.HostAny {
			host = "*"
		}
		listener := "http,https"
		if r.Listener != "" {
			listener = r.Listener
		}
		v := add(listener, host, r.Path, matchText(r.Route), r.Backends, r.Source)
		v.HTTPSRedirect, v.HSTS, v.Filters = r.HTTPSRedirect, r.HSTS, filterNames(r.Route)
		v.Policy = policyView(r.Policy)
	}
	for _, r := range t.L4Routes() {
		listener := r.Listener
		if listener == "" {
			listener = "https"
		}
		host := r.Host
		if host == "" {
			host = "*"
		}
		if r.IsTCP() {
			add(listener, "*", "", "TCP", r.Backends, r.Source)
		} else {
			add(listener, host, "", "SNI passthrough", r.Backends, r.Source)
		}
	}
	slices.SortStableFunc(rep.Routes, func(a, b RouteView) int {
		return cmp.Or(cmp.Compare(a.Listener, b.Listener), cmp.Compare(a.Host, b.Host), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Match, b.Match))
	})
	if d := t.Default(); d != nil {
		add("http,https", "(default)", d.Path, d.PathMatch.String(), d.Backends, d.Source).Policy = policyView(d.Policy)
	}
	return rep
}

// WriteJSON prints the report as indented JSON.
func (rep Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteText prints the report as a table followed by the problems.
func (rep Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LISTENER\tHOST\tPATH\tMATCH\tFILTERS\tPOLICY\tBACKENDS\tSOURCE")
	for _, r := range rep.Routes {
		var bs []string
		for _, b := range r.Backends {
			eps := strings.Join(b.Endpoints, ",")
			if eps == "" {
				eps = "no ready endpoints"
			}
			if b.Status != 0 {
				eps = fmt.Sprintf("answers %d: %s", b.Status, b.Reason)
			}
			bs = append(bs, fmt.Sprintf("%s w=%d [%s]", b.Name, b.Weight, eps))
		}
		if len(bs) == 0 {
			bs = []string{"(none: 503)"}
		}
		var tlsNotes []string
		if r.HTTPSRedirect {
			tlsNotes = append(tlsNotes, "308->https")
		}
		if r.HSTS != "" {
			tlsNotes = append(tlsNotes, "hsts")
		}
		tlsNotes = append(tlsNotes, r.Filters...)
		if len(tlsNotes) == 0 {
			tlsNotes = []string{"-"}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Listener, r.Host, r.Path, r.Match, strings.Join(tlsNotes, ","), r.Policy.text(),
			strings.Join(bs, "; "), r.Source)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rep.Certificates) > 0 {
		fmt.Fprintln(w, "\nCERTIFICATES")
		for _, c := range rep.Certificates {
			extra := ""
			if c.ClientCA != "" {
				extra = " client certificates required (" + c.ClientCA + ")"
			}
			fmt.Fprintf(w, "  %s from %s (subject %q, expires %s)%s\n", strings.Join(c.Hosts, ","), c.Source, c.Subject, c.NotAfter, extra)
		}
	}
	PrintStatuses(w, rep.Statuses)
	PrintProblems(w, rep.Problems)
	if len(rep.Applied) > 0 {
		fmt.Fprintln(w, "\nAPPLIED (generation and time each object's latest change went live)")
		for _, a := range rep.Applied {
			gone := ""
			if a.Deleted {
				gone = " (deleted)"
			}
			fmt.Fprintf(w, "  %s generation %d at %s%s\n", a.Object, a.Generation, a.Time.UTC().Format(time.RFC3339Nano), gone)
		}
	}
	return nil
}

// PrintStatuses prints the Gateway API statuses, one object per line.
func PrintStatuses(w io.Writer, sts []StatusView) {
	if len(sts) == 0 {
		return
	}
	fmt.Fprintln(w, "\nGATEWAY API STATUS")
	for _, s := range sts {
		mark := "ok  "
		if !s.Healthy {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s %s: %s\n", mark, s.Object, strings.Join(s.Conditions, "; "))
	}
}

func conditionTexts(cs []metav1.Condition) ([]string, bool) {
	healthy := true
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		txt := fmt.Sprintf("%s=%s (%s)", c.Type, c.Status, c.Reason)
		if translate.Unhealthy(c) {
			healthy = false
			txt += " " + c.Message
		}
		out = append(out, txt)
	}
	return out, healthy
}

// gatewayStatuses flattens the Result's Gateway API statuses.
func gatewayStatuses(res *translate.Result) []StatusView {
	out := []StatusView{}
	add := func(obj string, cs []metav1.Condition, extra ...string) {
		txt, ok := conditionTexts(cs)
		out = append(out, StatusView{Object: obj, Healthy: ok, Conditions: append(extra, txt...)})
	}
	for _, gc := range res.GatewayClasses {
		add("GatewayClass/"+gc.Name, gc.Status.Conditions)
	}
	for _, g := range res.Gateways {
		add(g.Ref.String(), g.Status.Conditions)
		for _, l := range g.Status.Listeners {
			add(g.Ref.String()+" listener "+string(l.Name), l.Conditions, fmt.Sprintf("attachedRoutes=%d", l.AttachedRoutes))
		}
	}
	for _, r := range res.RouteStatuses() {
		for _, p := range r.Parents {
			parent := string(p.ParentRef.Name)
			if p.ParentRef.SectionName != nil {
				parent += "/" + string(*p.ParentRef.SectionName)
			}
			if p.ParentRef.Port != nil {
				parent += fmt.Sprintf(":%d", *p.ParentRef.Port)
			}
			add(r.Ref.String()+" parent "+parent, p.Conditions)
		}
	}
	for _, ps := range slices.Concat(res.SecurityPolicies, res.TrafficPolicies) {
		for _, a := range ps.Ancestors {
			anc := string(*a.AncestorRef.Kind) + "/" + string(a.AncestorRef.Name)
			if a.AncestorRef.SectionName != nil {
				anc += "/" + string(*a.AncestorRef.SectionName)
			}
			add(ps.Ref.String()+" ancestor "+anc, a.Conditions)
		}
	}
	return out
}

// PrintProblems prints one line per problem, or that there are none.
func PrintProblems(w io.Writer, problems []translate.Problem) {
	if len(problems) == 0 {
		fmt.Fprintln(w, "status: no problems")
		return
	}
	fmt.Fprintf(w, "status: %d problem(s)\n", len(problems))
	for _, p := range problems {
		fmt.Fprintf(w, "  %s %s %s: %s (%s)\n", p.Severity, p.Object, p.Field, p.Message, p.Reason)
	}
}

// matchText renders a route's path match kind and predicates.
func matchText(r *router.Route) string {
	parts := []string{r.PathMatch.String()}
	if r.Method != "" {
		parts = append(parts, "method="+r.Method)
	}
	for _, h := range r.Headers {
		parts = append(parts, valueMatchText("header", h))
	}
	for _, q := range r.QueryParams {
		parts = append(parts, valueMatchText("query", q))
	}
	return strings.Join(parts, " ")
}

func valueMatchText(kind string, m router.ValueMatch) string {
	if m.Regex {
		return kind + ":" + m.Name + "~" + m.Value
	}
	return kind + ":" + m.Name + "=" + m.Value
}

// filterNames lists a route's filters for `portico routes`.
func filterNames(r *router.Route) []string {
	var out []string
	if r.RequestHeaders != nil {
		out = append(out, "request-headers")
	}
	if r.ResponseHeaders != nil {
		out = append(out, "response-headers")
	}
	if rd := r.Redirect; rd != nil {
		out = append(out, fmt.Sprintf("redirect-%d", rd.StatusCode))
	}
	if r.Rewrite != nil {
		out = append(out, "rewrite")
	}
	if r.CORS != nil {
		out = append(out, "cors")
	}
	for _, m := range r.Mirrors {
		name := "(invalid)"
		if m.Backend != nil {
			name = m.Backend.Name
		}
		out = append(out, fmt.Sprintf("mirror %g%% to %s", m.Fraction*100, name))
	}
	if r.Timeout > 0 {
		out = append(out, "timeout "+r.Timeout.String())
	}
	if r.BackendTimeout > 0 {
		out = append(out, "backend-timeout "+r.BackendTimeout.String())
	}
	if r.Retry != nil {
		out = append(out, fmt.Sprintf("retry %dx", r.Retry.Attempts))
	}
	if c := r.Compression; c != nil {
		var encs []string
		for _, e := range c.Encodings {
			encs = append(encs, string(e))
		}
		out = append(out, "compress("+strings.Join(encs, "|")+")")
	}
	for _, o := range r.ResponseOverrides {
		var codes []string
		for _, c := range o.Codes {
			codes = append(codes, fmt.Sprint(c))
		}
		for _, c := range o.Classes {
			codes = append(codes, fmt.Sprintf("%dxx", c))
		}
		out = append(out, "override("+strings.Join(codes, "|")+")")
	}
	if sp := r.Session; sp != nil {
		switch {
		case sp.Cookie != nil:
			out = append(out, "session(cookie "+cmp.Or(sp.Cookie.Name, "portico-session")+")")
		default:
			out = append(out, "session(header "+sp.Header+")")
		}
	}
	return out
}
