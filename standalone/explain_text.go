package standalone

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/dataplane"
	"github.com/portico-dev/portico/router"
)

// LiveFromSnapshot translates snap and loads the result into a data plane
// that serves nothing (no listeners): what `portico explain` asks.
func LiveFromSnapshot(snap *translate.Snapshot, opts translate.Options) (Live, error) {
	opts.Now = time.Now()
	res := translate.Translate(snap, opts)
	dp, err := dataplane.New(dataplane.Options{})
	if err != nil {
		return Live{}, err
	}
	dp.ApplyTable(res.Serving(), router.Compile(res.Config), true)
	translate.ApplyDrops(&res, dp.Router.Table().Dropped())
	return Live{Dataplane: dp, Problems: func() []translate.Problem { return res.Problems }}, nil
}

// WriteJSON prints the explanation as indented JSON.
func (v ExplainView) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WriteText prints the explanation for people: one section per step of
// the decision.
func (v ExplainView) WriteText(w io.Writer) error {
	var b strings.Builder
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-11s %s\n", label, fmt.Sprintf(format, args...))
	}
	line("request", "%s", v.Request)
	line("listener", "%s", v.Listener)
	for _, o := range v.OtherListeners {
		line("", "also on this port: %s", o)
	}
	if v.Admission != "" {
		line("admission", "%s", v.Admission)
	}
	if p := v.Passthrough; p != nil {
		line("passthrough", "%s", p.Source)
	} else {
		h := v.Host
		switch h.Match {
		case "none":
			line("host", "%s: no host of this listener matches", h.Host)
		default:
			pat := h.Pattern
			if pat == "" {
				pat = "(rules without host)"
			}
			line("host", "%s: %s match %s, %d route(s)", h.Host, h.Match, pat, h.Routes)
		}
		if len(h.Shadowed) > 0 {
			line("", "shadows %s (less specific; never consulted for this host)", strings.Join(h.Shadowed, ", "))
		}
		if len(v.Candidates) > 0 {
			b.WriteString("candidates (in the order the router tries them; then the rest of the host's routes):\n")
		}
		for i, c := range v.Candidates {
			mark := "no   "
			switch {
			case c.Winner:
				mark = "WIN  "
			case c.Matched:
				mark = "match"
			case !c.Tried:
				mark = "-    "
			}
			fmt.Fprintf(&b, "  %2d. %s %s [%s]\n        %s\n", i+1, mark, c.Source, c.Match, c.Reason)
		}
	}
	if r := v.Winner; r != nil {
		def := ""
		if v.Default {
			def = " (default backend: nothing of the host matched)"
		}
		line("winner", "%s [%s]%s", r.Source, r.Match, def)
		filters := r.Filters
		if r.HTTPSRedirect {
			filters = append([]string{"308->https"}, filters...)
		}
		if r.HSTS != "" {
			filters = append(filters, "hsts")
		}
		line("filters", "%s", orDash(strings.Join(filters, ", ")))
		line("policy", "%s", r.Policy.text())
	}
	var bs []BackendView
	if v.Winner != nil {
		bs = v.Winner.Backends
	} else if v.Passthrough != nil {
		bs = v.Passthrough.Backends
	}
	for i, bk := range bs {
		label := ""
		if i == 0 {
			label = "backends"
		}
		eps := strings.Join(bk.Endpoints, ", ")
		if bk.Status != 0 {
			eps = fmt.Sprintf("answers %d: %s", bk.Status, bk.Reason)
		} else if eps == "" {
			eps = "no ready endpoints"
		}
		line(label, "%s weight %d %s, %d ready endpoint(s) [%s]", bk.Name, bk.Weight, bk.Protocol, len(bk.Endpoints), eps)
	}
	line("outcome", "%s", v.Outcome)
	if len(v.Problems) == 0 {
		line("problems", "none on the objects involved")
	}
	for i, p := range v.Problems {
		label := ""
		if i == 0 {
			label = "problems"
		}
		line(label, "%s %s %s: %s (%s)", p.Severity, p.Object, p.Field, p.Message, p.Reason)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ServeExplain answers GET /debug/explain?url=...&header=Name:+value&
// sni=...&method=...&listener=... with the ExplainView as JSON (400 with
// {"error": ...} for a bad query).
func (l Live) ServeExplain(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	q := r.URL.Query()
	v, err := l.Explain(ExplainQuery{URL: q.Get("url"), Method: q.Get("method"), Headers: q["header"], SNI: q.Get("sni"), Listener: q.Get("listener")})
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}
