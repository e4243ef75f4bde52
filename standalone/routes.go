package standalone

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/portico-dev/portico/controllers/translate"
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
}

// BackendView is a backend of a route with its weight and endpoints.
type BackendView struct {
	Name      string   `json:"name"`
	Weight    uint32   `json:"weight"`
	Protocol  string   `json:"protocol"`
	Endpoints []string `json:"endpoints"`
}

// Report is what `portico routes` prints.
type Report struct {
	Routes   []RouteView         `json:"routes"`
	Problems []translate.Problem `json:"problems"`
}

// Describe renders a compiled table and the translation's problems.
func Describe(t *router.Table, problems []translate.Problem) Report {
	rep := Report{Problems: problems}
	if rep.Problems == nil {
		rep.Problems = []translate.Problem{}
	}
	add := func(r *router.CompiledRoute, host string) {
		v := RouteView{Listener: "http,https", Host: host, Path: r.Path, Match: r.PathMatch.String(), Source: r.Source.String()}
		for _, wb := range r.Backends {
			if wb.Backend == nil {
				continue
			}
			bv := BackendView{Name: wb.Backend.Name, Weight: wb.Weight, Protocol: wb.Backend.Protocol.String(), Endpoints: []string{}}
			for _, e := range wb.Backend.Endpoints {
				bv.Endpoints = append(bv.Endpoints, e.Address)
			}
			v.Backends = append(v.Backends, bv)
		}
		if v.Backends == nil {
			v.Backends = []BackendView{}
		}
		rep.Routes = append(rep.Routes, v)
	}
	for _, r := range t.Routes() {
		host := r.Host
		if r.HostMatch == router.HostAny {
			host = "*"
		}
		add(r, host)
	}
	slices.SortStableFunc(rep.Routes, func(a, b RouteView) int {
		return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Match, b.Match))
	})
	if d := t.Default(); d != nil {
		add(d, "(default)")
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
	fmt.Fprintln(tw, "LISTENER\tHOST\tPATH\tMATCH\tBACKENDS\tSOURCE")
	for _, r := range rep.Routes {
		var bs []string
		for _, b := range r.Backends {
			eps := strings.Join(b.Endpoints, ",")
			if eps == "" {
				eps = "no ready endpoints"
			}
			bs = append(bs, fmt.Sprintf("%s w=%d [%s]", b.Name, b.Weight, eps))
		}
		if len(bs) == 0 {
			bs = []string{"(none: 503)"}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Listener, r.Host, r.Path, r.Match, strings.Join(bs, "; "), r.Source)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	PrintProblems(w, rep.Problems)
	return nil
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
