package router

import "strings"

// l4Table indexes the connection-level routes of a Table: TLS passthrough by
// SNI and TCP by port.
type l4Table struct {
	exact   map[string]*CompiledL4
	wildOne map[string]*CompiledL4
	wildAny map[string]*CompiledL4
	tcp     map[int32]*CompiledL4
	all     []*CompiledL4
}

// CompiledL4 is an L4Route ready to serve.
type CompiledL4 struct {
	L4Route
	weighted
}

func compileL4(cfg Config, backends map[*Backend]*compiledBackend) l4Table {
	t := l4Table{exact: map[string]*CompiledL4{}, wildOne: map[string]*CompiledL4{},
		wildAny: map[string]*CompiledL4{}, tcp: map[int32]*CompiledL4{}}
	add := func(r *L4Route) *CompiledL4 {
		c := &CompiledL4{L4Route: *r, weighted: compileWeighted(r.Backends, backends)}
		c.Host = strings.ToLower(strings.TrimSuffix(r.Host, "."))
		return c
	}
	for i := range cfg.Passthrough {
		r := add(&cfg.Passthrough[i])
		m, key := t.exact, r.Host
		switch r.HostMatch {
		case HostWildcardOneLabel:
			m, key = t.wildOne, strings.TrimPrefix(r.Host, "*.")
		case HostWildcardAnyLabels:
			m, key = t.wildAny, strings.TrimPrefix(r.Host, "*.")
		case HostAny:
			continue // passthrough needs SNI
		}
		if _, taken := m[key]; !taken {
			m[key] = r
			t.all = append(t.all, r)
		}
	}
	for i := range cfg.TCP {
		r := add(&cfg.TCP[i])
		if _, taken := t.tcp[r.Port]; !taken {
			t.tcp[r.Port] = r
			t.all = append(t.all, r)
		}
	}
	return t
}

// Passthrough returns the passthrough route for a TLS server name, or nil.
func (t *Table) Passthrough(sni string) *CompiledL4 {
	l := &t.l4
	if len(l.exact)+len(l.wildOne)+len(l.wildAny) == 0 || sni == "" {
		return nil
	}
	sni = strings.ToLower(strings.TrimSuffix(sni, "."))
	if r, ok := l.exact[sni]; ok {
		return r
	}
	if i := strings.IndexByte(sni, '.'); i > 0 {
		if r, ok := l.wildOne[sni[i+1:]]; ok {
			return r
		}
	}
	for s := sni; ; {
		i := strings.IndexByte(s, '.')
		if i < 0 {
			return nil
		}
		s = s[i+1:]
		if r, ok := l.wildAny[s]; ok {
			return r
		}
	}
}

// TCP returns the TCP route of a listener port, or nil.
func (t *Table) TCP(port int32) *CompiledL4 { return t.l4.tcp[port] }

// L4Routes returns the passthrough and TCP routes, for tools. The slice must
// not be modified.
func (t *Table) L4Routes() []*CompiledL4 { return t.l4.all }
