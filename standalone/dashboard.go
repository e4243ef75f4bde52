package standalone

import (
	"cmp"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"html/template"
	"net/http"
	"slices"
	"time"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/dataplane"
	"github.com/portico-dev/portico/router"
)

//go:embed dashboard.html
var dashboardHTML string

var dashboardTemplate = template.Must(template.New("dashboard").Funcs(template.FuncMap{
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
}).Parse(dashboardHTML))

// Handlers are the read-only admin pages: /debug/explain always, and
// /dashboard when dashboard is set.
func (l Live) Handlers(dashboard bool) map[string]http.Handler {
	out := map[string]http.Handler{"/debug/explain": http.HandlerFunc(l.ServeExplain)}
	if dashboard {
		out["/dashboard"] = http.HandlerFunc(l.ServeDashboard)
	}
	return out
}

// dashboardData is what the dashboard template renders.
type dashboardData struct {
	Nonce      string
	Now        time.Time
	Generation uint64
	Loaded     bool
	Listeners  []listenerRow
	Hosts      []hostRow
	Routes     []RouteView
	Backends   []backendRow
	Conflicts  []router.Drop
	Problems   []translate.Problem
	Applied    []dataplane.Applied
}

type listenerRow struct{ Name, Kind, Address string }

type hostRow struct {
	Listener, Host string
	Routes         int
}

type backendRow struct {
	Name, Protocol string
	Ready, Routes  int
	Endpoints      []string
	Status         int
	Reason         string
}

// maxApplied bounds the changes listed on the dashboard.
const maxApplied = 25

// ServeDashboard renders the dashboard: listeners, hosts, routes with their
// source objects, backends with ready endpoints, conflicts and problems,
// the latest changes and when they went live, and an explain box (which
// calls /debug/explain). It changes nothing.
func (l Live) ServeDashboard(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "the dashboard is read-only", http.StatusMethodNotAllowed)
		return
	}
	var nb [16]byte
	_, _ = rand.Read(nb[:])
	d := dashboardData{Nonce: base64.StdEncoding.EncodeToString(nb[:]), Now: time.Now()}
	if l.Problems != nil {
		d.Problems = l.Problems()
	}
	if t := l.Dataplane.Router.Table(); t != nil {
		d.Loaded, d.Generation, d.Conflicts = true, t.Generation, t.Dropped()
		d.Routes = Describe(t, &translate.Result{}).Routes
		d.Listeners = l.listenerRows(t)
		d.Hosts, d.Backends = hostRows(d.Routes), backendRows(d.Routes)
	}
	if l.Applied != nil {
		d.Applied = l.Applied.All()
		slices.SortStableFunc(d.Applied, func(a, b dataplane.Applied) int { return b.Time.Compare(a.Time) })
		d.Applied = d.Applied[:min(len(d.Applied), maxApplied)]
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+d.Nonce+"'; style-src 'nonce-"+d.Nonce+
		"'; connect-src 'self'; img-src 'self' data:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'")
	if err := dashboardTemplate.Execute(w, d); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

func (l Live) listenerRows(t *router.Table) []listenerRow {
	var out []listenerRow
	if l.HTTPAddr != "" {
		out = append(out, listenerRow{Name: "shared Ingress listener", Kind: "http", Address: l.HTTPAddr})
	}
	if l.HTTPSAddr != "" {
		out = append(out, listenerRow{Name: "shared Ingress listener", Kind: "https", Address: l.HTTPSAddr})
	}
	keys := t.Listeners()
	for _, r := range t.L4Routes() {
		if r.Listener != "" && !slices.Contains(keys, r.Listener) {
			keys = append(keys, r.Listener)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k == "" {
			if l.HTTPAddr == "" && l.HTTPSAddr == "" {
				out = append(out, listenerRow{Name: "shared Ingress listener", Kind: "http, https"})
			}
			continue
		}
		kind := "http"
		if l.Dataplane.ListenerTLS(k) {
			kind = "tls"
		}
		if t.TCP(k) != nil {
			kind = "tcp"
		}
		out = append(out, listenerRow{Name: k, Kind: kind, Address: "port " + portSuffix(k)})
	}
	return out
}

// portSuffix is the port of a listener key.
func portSuffix(key string) string {
	for i := len(key) - 1; i >= 0; i-- {
		if key[i] == ':' {
			return key[i+1:]
		}
	}
	return ""
}

func hostRows(routes []RouteView) []hostRow {
	var out []hostRow
	for _, r := range routes {
		if n := len(out); n > 0 && out[n-1].Listener == r.Listener && out[n-1].Host == r.Host {
			out[n-1].Routes++
			continue
		}
		out = append(out, hostRow{Listener: r.Listener, Host: r.Host, Routes: 1})
	}
	return out
}

func backendRows(routes []RouteView) []backendRow {
	byName := map[string]*backendRow{}
	for _, r := range routes {
		for _, b := range r.Backends {
			row, ok := byName[b.Name]
			if !ok {
				row = &backendRow{Name: b.Name, Protocol: b.Protocol, Ready: len(b.Endpoints), Endpoints: b.Endpoints, Status: b.Status, Reason: b.Reason}
				byName[b.Name] = row
			}
			row.Routes++
		}
	}
	out := make([]backendRow, 0, len(byName))
	for _, b := range byName {
		out = append(out, *b)
	}
	slices.SortFunc(out, func(a, b backendRow) int { return cmp.Compare(a.Name, b.Name) })
	return out
}
