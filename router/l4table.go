package router

import "strings"

// l4Table indexes the connection-level routes of a Table by listener: TLS
// passthrough by SNI, and one TCP route per TCP listener.
type l4Table struct {
	listeners map[string]*l4Index
	all       []*CompiledL4
}

type l4Index struct {
	exact   map[string]*CompiledL4
	wildOne map[string]*CompiledL4
	wildAny map[string]*CompiledL4
	tcp     *CompiledL4
}

// CompiledL4 is an L4Route ready to serve.
type CompiledL4 struct {
	L4Route
	weighted
	tcp bool
}

// IsTCP reports whether the route forwards a TCP listener (else it is a
// TLS passthrough route).
func (r *CompiledL4) IsTCP() bool { return r.tcp }

func (t *l4Table) index(listener string) *l4Index {
	if t.listeners == nil {
		t.listeners = map[string]*l4Index{}
	}
	ix, ok := t.listeners[listener]
	if !ok {
		ix = &l4Index{exact: map[string]*CompiledL4{}, wildOne: map[string]*CompiledL4{}, wildAny: map[string]*CompiledL4{}}
		t.listeners[listener] = ix
	}
	return ix
}

func compileL4(cfg Config, backends map[*Backend]*compiledBackend) l4Table {
	var t l4Table
	add := func(r *L4Route) *CompiledL4 {
		c := &CompiledL4{L4Route: *r, weighted: compileWeighted(r.Backends, backends)}
		c.Host = strings.ToLower(strings.TrimSuffix(r.Host, "."))
		return c
	}
	for i := range cfg.Passthrough {
		r := add(&cfg.Passthrough[i])
		ix := t.index(r.Listener)
		m, key := ix.exact, r.Host
		switch r.HostMatch {
		case HostWildcardOneLabel:
			m, key = ix.wildOne, strings.TrimPrefix(r.Host, "*.")
		case HostWildcardAnyLabels:
			m, key = ix.wildAny, strings.TrimPrefix(r.Host, "*.")
		case HostAny:
			key = "" // any SNI, including none
		}
		if _, taken := m[key]; !taken {
			m[key] = r
			t.all = append(t.all, r)
		}
	}
	for i := range cfg.TCP {
		r := add(&cfg.TCP[i])
		r.tcp = true
		if ix := t.index(r.Listener); ix.tcp == nil {
			ix.tcp = r
			t.all = append(t.all, r)
		}
	}
	return t
}

// Passthrough returns the shared HTTPS listener's passthrough route for a
// TLS server name, or nil.
func (t *Table) Passthrough(sni string) *CompiledL4 { return t.PassthroughOn("", sni) }

// PassthroughOn returns a listener's passthrough route for a TLS server
// name: exact, then wildcard, then a route for any name; or nil.
func (t *Table) PassthroughOn(listener, sni string) *CompiledL4 {
	ix := t.l4.listeners[listener]
	if ix == nil {
		return nil
	}
	sni = strings.ToLower(strings.TrimSuffix(sni, "."))
	if sni != "" {
		if r, ok := ix.exact[sni]; ok {
			return r
		}
		if i := strings.IndexByte(sni, '.'); i > 0 {
			if r, ok := ix.wildOne[sni[i+1:]]; ok {
				return r
			}
		}
		for s := sni; ; {
			i := strings.IndexByte(s, '.')
			if i < 0 {
				break
			}
			s = s[i+1:]
			if r, ok := ix.wildAny[s]; ok {
				return r
			}
		}
	}
	return ix.exact[""]
}

// TCP returns the TCP route of a listener, or nil.
func (t *Table) TCP(listener string) *CompiledL4 {
	if ix := t.l4.listeners[listener]; ix != nil {
		return ix.tcp
	}
	return nil
}

// L4Routes returns the passthrough and TCP routes, for tools. The slice must
// not be modified.
func (t *Table) L4Routes() []*CompiledL4 { return t.l4.all }
