package dataplane

import (
	"cmp"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-dev/portico/router"
	"github.com/portico-dev/portico/serving"
	certs "github.com/portico-dev/portico/tls"
)

// Options configure the data plane.
type Options struct {
	HTTPAddr  string // "" disables
	HTTPSAddr string // "" disables
	// HTTPSRedirectPort is the port clients use for HTTPS, put in redirect
	// Locations (443 leaves it out).
	HTTPSRedirectPort int
	TrustedProxies    []netip.Prefix
	// AccessLog, when set, receives one JSON line per request.
	AccessLog io.Writer
	Metrics   prometheus.Registerer
	Log       *slog.Logger
	L4        router.L4Options
	// Edge tunes client-facing protections.
	Edge router.EdgeOptions
	// Intercept may answer requests before routing (ACME HTTP-01).
	Intercept func(http.ResponseWriter, *http.Request) bool
	// Tracing, when set, traces requests (see NewTracing).
	Tracing *router.Tracing
}

// Dataplane is the serving side: a Router and a certificate Store fed
// together by Apply.
type Dataplane struct {
	Router *router.Router
	Certs  *certs.Store
	// CertCache is passed to translation so unchanged keys are not parsed
	// again.
	CertCache *certs.ParseCache
	opts      Options
	fallback  *tls.Certificate
	// listenerCerts holds one certificate store per TLS Gateway port;
	// listenerKinds what each Gateway port does.
	mu            sync.Mutex
	listenerCerts map[string]*certs.Store
	listenerKinds map[string]router.ListenerKind
	// stores is listenerCerts as the request path reads it, without the
	// lock: replaced whole on every change.
	stores atomic.Pointer[map[string]*portTLS]
	// proxy holds each Gateway port's PROXY protocol setting, which its
	// running listener reads per connection (never removed, so a listener
	// keeps the switch it started with).
	proxy map[string]*router.ProxySwitch
}

// New builds a data plane whose default certificate is a fresh self-signed
// one until a Result names another.
func New(opts Options) (*Dataplane, error) {
	fallback, err := certs.SelfSigned("portico.invalid")
	if err != nil {
		return nil, err
	}
	store := certs.NewStore(fallback)
	d := &Dataplane{Certs: store, CertCache: certs.NewParseCache(), opts: opts, fallback: fallback,
		listenerCerts: map[string]*certs.Store{}, listenerKinds: map[string]router.ListenerKind{},
		proxy: map[string]*router.ProxySwitch{}}
	d.stores.Store(&map[string]*portTLS{})
	ro := router.Options{
		TrustedProxies: opts.TrustedProxies,
		ErrorLog:       opts.Log,
		HTTPSPort:      opts.HTTPSRedirectPort,
		Certs:          admitter{d},
		Intercept:      opts.Intercept,
		Edge:           opts.Edge,
	}
	if opts.Metrics != nil {
		ro.Metrics = router.NewMetrics(opts.Metrics)
	}
	if opts.AccessLog != nil {
		ro.AccessLog = slog.New(slog.NewJSONHandler(opts.AccessLog, nil))
	}
	d.opts.L4.Log = opts.Log
	ro.Tracing = opts.Tracing
	d.Router = router.New(ro)
	return d, nil
}

// admitter applies the client-certificate policy and SNI rules of the
// certificate store that terminated a request's connection: the shared
// store for the main listeners, the Gateway port's own otherwise.
type admitter struct{ d *Dataplane }

func (a admitter) Admit(listener string, cs *tls.ConnectionState, host string) int {
	store := a.d.Certs
	var port *portTLS
	if listener != "" {
		if port = (*a.d.stores.Load())[listener]; port == nil {
			// A cleartext Gateway port: no certificate policy of its own.
			return 0
		}
		store = port.store
	}
	switch store.Admit(cs, host) {
	case certs.Misdirected:
		return http.StatusMisdirectedRequest
	case certs.Forbidden:
		return http.StatusForbidden
	}
	if port != nil && cs != nil && cs.ServerName != "" && len(port.hostnames) > 0 &&
		listenerFor(port.hostnames, cs.ServerName) != listenerFor(port.hostnames, host) {
		return http.StatusMisdirectedRequest
	}
	return 0
}

// portTLS is what the request path needs of one TLS Gateway port.
type portTLS struct {
	store     *certs.Store
	hostnames []string
}

// listenerFor picks the listener hostname of a port that serves name, as
// the Gateway API selects listeners: an exact hostname, else the longest
// matching wildcard (any number of labels), else the listener without a
// hostname; -1 when none does.
func listenerFor(hostnames []string, name string) int {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	best, bestLen := -1, -1
	for i, h := range hostnames {
		switch {
		case h == name:
			return i
		case strings.HasPrefix(h, "*.") && strings.HasSuffix(name, h[1:]) && len(name) > len(h)-1:
			if len(h) > bestLen {
				best, bestLen = i, len(h)
			}
		case h == "" && bestLen < 0:
			best = i
		}
	}
	return best
}

// Apply puts a translation live: certificates first, then the routing
// table. It returns the table's generation and how long compiling and
// swapping took.
func (d *Dataplane) Apply(res *serving.Model) (*router.Table, time.Duration) {
	start := time.Now()
	table := d.ApplyTable(res, router.Compile(res.Config), true)
	d.CertCache.Sweep()
	return table, time.Since(start)
}

// ApplyTable puts a compiled table live with the rest of res (whose Config
// is not read): the certificates first (only when certsChanged; the
// Gateway listeners' always), then the table. Incremental translation
// (translate.Engine) compiles its tables itself.
func (d *Dataplane) ApplyTable(res *serving.Model, table *router.Table, certsChanged bool) *router.Table {
	if certsChanged {
		def := d.fallback
		if res.DefaultCertificate != nil {
			def = res.DefaultCertificate.Cert
		}
		certificates := res.Certificates
		if len(res.ACMEHosts) > 0 {
			certificates = append(certificates[:len(certificates):len(certificates)], acmeCertificates(res.ACMEHosts)...)
		}
		d.Certs.Swap(certificates, def)
	}
	d.swapListenerCerts(res.Listeners)
	d.Router.Swap(table)
	startHeapTuner()
	noteTableLive()
	return table
}

// Ready reports whether a routing table is live.
func (d *Dataplane) Ready() bool { return d.Router.Table() != nil }

// Listeners returns the configured client-facing listeners by name. The
// HTTPS listener terminates TLS with the Store and passes through the
// connections whose SNI has a passthrough route.
func (d *Dataplane) Listeners() map[string]router.Listener {
	out := map[string]router.Listener{}
	if d.opts.HTTPAddr != "" {
		out["http"] = router.Listener{Addr: d.opts.HTTPAddr, ProxyProtocol: d.opts.Edge.ProxyProtocol}
	}
	if d.opts.HTTPSAddr != "" {
		out["https"] = router.Listener{Addr: d.opts.HTTPSAddr, TLS: d.Certs.TLSConfig(), Table: d.Router.Table, L4: d.opts.L4, ProxyProtocol: d.opts.Edge.ProxyProtocol}
	}
	return out
}

func acmeCertificates(hosts []serving.ACMEHost) []certs.Certificate {
	out := make([]certs.Certificate, 0, len(hosts))
	for _, h := range hosts {
		out = append(out, certs.Certificate{Hosts: h.Hosts, Managed: true, Source: "ACME for " + h.Source})
	}
	return out
}

// swapListenerCerts gives each TLS Gateway port its certificates: by
// listener hostname, and a certificate of a listener without hostname as
// the port's default.
func (d *Dataplane) swapListenerCerts(ls []serving.Listener) {
	d.mu.Lock()
	defer d.mu.Unlock()
	seen := map[string]bool{}
	d.listenerKinds = map[string]router.ListenerKind{}
	for _, l := range ls {
		d.proxySwitch(l.Key).Store(cmp.Or(l.ProxyProtocol, d.opts.Edge.ProxyProtocol))
		if l.Kind != router.ListenerHTTP {
			d.listenerKinds[l.Key] = l.Kind
		}
		if !l.TLS {
			continue
		}
		seen[l.Key] = true
		store, ok := d.listenerCerts[l.Key]
		if !ok {
			store = certs.NewStore(d.fallback)
			d.listenerCerts[l.Key] = store
		}
		def := d.fallback
		var byHost []certs.Certificate
		for _, c := range l.Certificates {
			if len(c.Hosts) == 0 {
				def = c.Cert
				if c.ClientCAs == nil {
					continue
				}
			}
			byHost = append(byHost, c)
		}
		store.Swap(byHost, def)
	}
	for key := range d.listenerCerts {
		if !seen[key] {
			delete(d.listenerCerts, key)
		}
	}
	hostnames := map[string][]string{}
	for _, l := range ls {
		hostnames[l.Key] = l.Hostnames
	}
	stores := make(map[string]*portTLS, len(d.listenerCerts))
	for k, v := range d.listenerCerts {
		stores[k] = &portTLS{store: v, hostnames: hostnames[k]}
	}
	d.stores.Store(&stores)
}

// GatewayListener returns how to serve one Gateway port at addr: HTTP, with
// TLS from its certificate store when the port terminates TLS, or
// connection-level for TLS passthrough and TCP ports.
func (d *Dataplane) GatewayListener(key, addr string) router.Listener {
	d.mu.Lock()
	defer d.mu.Unlock()
	l := router.Listener{Addr: addr, Key: key, Kind: d.listenerKinds[key], L4: d.opts.L4, ProxySwitch: d.proxySwitch(key)}
	if l.Kind != router.ListenerHTTP {
		// Only connection-level listeners read the Table themselves: an
		// HTTPS Gateway port must not pass through the Ingress SNI routes.
		l.Table = d.Router.Table
	}
	if store, ok := d.listenerCerts[key]; ok {
		l.TLS = store.TLSConfig()
	}
	return l
}

// proxySwitch returns key's PROXY protocol switch, made with the
// process-wide setting the first time; d.mu is held.
func (d *Dataplane) proxySwitch(key string) *router.ProxySwitch {
	sw := d.proxy[key]
	if sw == nil {
		sw = &router.ProxySwitch{}
		sw.Store(d.opts.Edge.ProxyProtocol)
		d.proxy[key] = sw
	}
	return sw
}
