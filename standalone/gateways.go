package standalone

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/router"
)

// gatewayServers binds each Gateway's listeners on the Gateway's own
// address: its spec.addresses IP when set, else the next free address of
// the pool, kept for as long as the Gateway exists.
type gatewayServers struct {
	pool     netip.Prefix
	rt       *router.Router
	drain    router.Drain
	log      *slog.Logger
	notify   func(name string, addr net.Addr)
	mu       sync.Mutex
	assigned map[string]netip.Addr // Gateway ref -> address
	running  map[string]*gatewayServer
}

type gatewayServer struct {
	addr   string
	cancel context.CancelFunc
	done   chan struct{}
}

func newGatewayServers(pool netip.Prefix, rt *router.Router, d router.Drain, log *slog.Logger, notify func(string, net.Addr)) *gatewayServers {
	return &gatewayServers{pool: pool, rt: rt, drain: d, log: log, notify: notify,
		assigned: map[string]netip.Addr{}, running: map[string]*gatewayServer{}}
}

// addressFor returns the Gateway's address, assigning one from the pool.
func (g *gatewayServers) addressFor(l translate.GatewayListener) (netip.Addr, error) {
	if l.Address != "" {
		a, err := netip.ParseAddr(l.Address)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("spec.addresses %q of %s: %w", l.Address, l.Gateway, err)
		}
		return a, nil
	}
	ref := l.Gateway.String()
	if a, ok := g.assigned[ref]; ok {
		return a, nil
	}
	used := map[netip.Addr]bool{}
	for _, a := range g.assigned {
		used[a] = true
	}
	for a := g.pool.Addr().Next(); g.pool.Contains(a); a = a.Next() {
		if !used[a] {
			g.assigned[ref] = a
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("gateway address pool %s is exhausted", g.pool)
}

// sync starts the listeners that are wanted and not running, and stops
// those no longer wanted. It returns each Gateway's address.
func (g *gatewayServers) sync(ctx context.Context, wanted []translate.GatewayListener) map[string]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	addrs := map[string]string{}
	keep := map[string]bool{}
	gateways := map[string]bool{}
	for _, l := range wanted {
		gateways[l.Gateway.String()] = true
		a, err := g.addressFor(l)
		if err != nil {
			g.log.Error("gateway listener not bound", "listener", l.Key, "error", err)
			continue
		}
		addrs[l.Gateway.String()] = a.String()
		hostport := net.JoinHostPort(a.String(), strconv.Itoa(int(l.Port)))
		keep[l.Key] = true
		if s, ok := g.running[l.Key]; ok && s.addr == hostport {
			continue
		}
		g.stop(l.Key)
		g.start(ctx, l.Key, hostport)
	}
	for key := range g.running {
		if !keep[key] {
			g.stop(key)
		}
	}
	for ref := range g.assigned {
		if !gateways[ref] {
			delete(g.assigned, ref)
		}
	}
	return addrs
}

func (g *gatewayServers) start(ctx context.Context, key, hostport string) {
	sctx, cancel := context.WithCancel(ctx)
	s := &gatewayServer{addr: hostport, cancel: cancel, done: make(chan struct{})}
	g.running[key] = s
	go func() {
		defer close(s.done)
		err := router.Serve(sctx, router.Listener{Addr: hostport}, g.rt.Listener(key), g.drain, func(a net.Addr) {
			g.log.Info("gateway listening", "listener", key, "address", a.String())
			if g.notify != nil {
				g.notify(key, a)
			}
		})
		if err != nil {
			g.log.Error("gateway listener failed", "listener", key, "address", hostport, "error", err)
		}
	}()
}

func (g *gatewayServers) stop(key string) {
	if s, ok := g.running[key]; ok {
		s.cancel()
		delete(g.running, key)
	}
}

// wait blocks until every listener has stopped.
func (g *gatewayServers) wait() {
	g.mu.Lock()
	servers := make([]*gatewayServer, 0, len(g.running))
	for _, s := range g.running {
		servers = append(servers, s)
	}
	g.mu.Unlock()
	for _, s := range servers {
		<-s.done
	}
}
