package dataplane

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/portico-dev/portico/router"
)

// ListenerSet runs the client-facing listeners of Gateways: one server per
// listener key, each serving that key's routes. Sync starts and stops
// servers to match what is wanted; other servers are never touched, so a
// change to one Gateway does not disturb another's connections.
type ListenerSet struct {
	rt      *router.Router
	drain   router.Drain
	log     *slog.Logger
	notify  func(key string, addr net.Addr)
	mu      sync.Mutex
	running map[string]*listenerServer
}

type listenerServer struct {
	l      router.Listener
	cancel context.CancelFunc
	done   chan struct{}
}

// NewListenerSet returns an empty set serving from rt. notify, when set,
// is told each bound address.
func NewListenerSet(rt *router.Router, d router.Drain, log *slog.Logger, notify func(string, net.Addr)) *ListenerSet {
	return &ListenerSet{rt: rt, drain: d, log: log, notify: notify, running: map[string]*listenerServer{}}
}

// Sync makes the running servers those of want, by listener key. A server
// whose address or TLS configuration changed is restarted.
func (s *ListenerSet) Sync(ctx context.Context, want map[string]router.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, l := range want {
		if cur, ok := s.running[key]; ok && cur.l.Addr == l.Addr && cur.l.TLS == l.TLS && cur.l.Kind == l.Kind {
			continue
		}
		s.stop(key)
		s.start(ctx, key, l)
	}
	for key := range s.running {
		if _, ok := want[key]; !ok {
			s.stop(key)
		}
	}
}

// bindRetry is the wait between attempts to bind a busy port.
const bindRetry = 250 * time.Millisecond

func (s *ListenerSet) start(ctx context.Context, key string, l router.Listener) {
	sctx, cancel := context.WithCancel(ctx)
	ls := &listenerServer{l: l, cancel: cancel, done: make(chan struct{})}
	s.running[key] = ls
	go func() {
		defer close(ls.done)
		// A port can still be held by a listener that is draining (one
		// just removed, whose port was given to this one): binding is
		// retried until it works or the listener is no longer wanted.
		for attempt := 0; ; attempt++ {
			bound := false
			err := router.Serve(sctx, l, s.rt.Listener(key), s.drain, func(a net.Addr) {
				bound = true
				s.log.Info("gateway listening", "listener", key, "address", a.String())
				if s.notify != nil {
					s.notify(key, a)
				}
			})
			if err == nil || bound || sctx.Err() != nil {
				if err != nil {
					s.log.Error("gateway listener failed", "listener", key, "address", l.Addr, "error", err)
				}
				return
			}
			if attempt == 0 {
				s.log.Info("gateway listener cannot bind yet; retrying", "listener", key, "address", l.Addr, "error", err.Error())
			}
			select {
			case <-sctx.Done():
				return
			case <-time.After(bindRetry):
			}
		}
	}()
}

func (s *ListenerSet) stop(key string) {
	if ls, ok := s.running[key]; ok {
		ls.cancel()
		delete(s.running, key)
	}
}

// Wait blocks until every server has stopped (after ctx of Sync ended).
func (s *ListenerSet) Wait() {
	s.mu.Lock()
	servers := make([]*listenerServer, 0, len(s.running))
	for _, ls := range s.running {
		servers = append(servers, ls)
	}
	s.mu.Unlock()
	for _, ls := range servers {
		<-ls.done
	}
}
