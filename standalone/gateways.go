package standalone

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/dataplane"
	"github.com/portico-dev/portico/router"
)

// gatewayAddresses gives each Gateway its own address: its spec.addresses
// IP when set, else the next free address of the pool, kept for as long as
// the Gateway exists; and binds the Gateway's listeners there.
type gatewayAddresses struct {
	pool      netip.Prefix
	dp        *dataplane.Dataplane
	listeners *dataplane.ListenerSet
	log       *slog.Logger
	assigned  map[string]netip.Addr // Gateway ref -> address
}

func newGatewayAddresses(pool netip.Prefix, dp *dataplane.Dataplane, ls *dataplane.ListenerSet, log *slog.Logger) *gatewayAddresses {
	return &gatewayAddresses{pool: pool, dp: dp, listeners: ls, log: log, assigned: map[string]netip.Addr{}}
}

// addressFor returns the Gateway's address, assigning one from the pool.
func (g *gatewayAddresses) addressFor(l translate.GatewayListener) (netip.Addr, error) {
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

// sync binds the wanted listeners and returns each Gateway's address.
func (g *gatewayAddresses) sync(ctx context.Context, wanted []translate.GatewayListener) map[string]string {
	addrs := map[string]string{}
	want := map[string]router.Listener{}
	for _, l := range wanted {
		a, err := g.addressFor(l)
		if err != nil {
			g.log.Error("gateway listener not bound", "listener", l.Key, "error", err)
			continue
		}
		addrs[l.Gateway.String()] = a.String()
		want[l.Key] = g.dp.GatewayListener(l.Key, net.JoinHostPort(a.String(), strconv.Itoa(int(l.Port))))
	}
	for ref := range g.assigned {
		if _, ok := addrs[ref]; !ok {
			delete(g.assigned, ref)
		}
	}
	g.listeners.Sync(ctx, want)
	return addrs
}
