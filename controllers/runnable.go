package controllers

import (
	"context"
	"sync"
)

// managerContext is a manager Runnable that keeps the manager's context
// for work started outside Start (certificate orders, Gateway listeners)
// and calls onStop once that context ends. It runs on every replica.
type managerContext struct {
	mu     sync.Mutex
	ctx    context.Context
	onStop func()
}

// Start records ctx, waits for it to end and runs onStop.
func (m *managerContext) Start(ctx context.Context) error {
	m.mu.Lock()
	m.ctx = ctx
	m.mu.Unlock()
	<-ctx.Done()
	if m.onStop != nil {
		m.onStop()
	}
	return nil
}

// NeedLeaderElection is false: every replica serves traffic.
func (m *managerContext) NeedLeaderElection() bool { return false }

// context returns the manager's context, or nil before Start.
func (m *managerContext) context() context.Context {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ctx
}
