package router

import (
	"net"
	"sync"
)

// connQueue is a net.Listener whose connections are put by others: an
// accept loop that first handshakes (tlsListener), peeks at
// (TLSMux) or sorts (fastEngine) each connection in its own goroutine.
// Closing the queue closes the listener under it, if any; when that
// listener fails, Accept returns its error.
type connQueue struct {
	addr  net.Addr
	under net.Listener // nil when nothing is accepted from below
	ch    chan net.Conn
	done  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	err   error // why accepting stopped, unless Close stopped it
}

func newConnQueue(addr net.Addr, under net.Listener) *connQueue {
	return &connQueue{addr: addr, under: under, ch: make(chan net.Conn), done: make(chan struct{})}
}

// acceptEach accepts from the listener under the queue and hands each
// connection to handle in a goroutine of its own, until that listener
// fails; then the queue fails with its error.
func (q *connQueue) acceptEach(handle func(net.Conn)) {
	for {
		c, err := q.under.Accept()
		if err != nil {
			q.fail(err)
			return
		}
		go handle(c)
	}
}

// put queues c for Accept, or closes it when the queue is closed.
func (q *connQueue) put(c net.Conn) {
	select {
	case q.ch <- c:
	case <-q.done:
		_ = c.Close()
	}
}

func (q *connQueue) fail(err error) {
	q.mu.Lock()
	q.err = err
	q.mu.Unlock()
	_ = q.Close()
}

// Accept implements net.Listener.
func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.done:
		q.mu.Lock()
		defer q.mu.Unlock()
		if q.err != nil {
			return nil, q.err
		}
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener: it stops accepting.
func (q *connQueue) Close() error {
	var err error
	q.once.Do(func() {
		close(q.done)
		if q.under != nil {
			err = q.under.Close()
		}
	})
	return err
}

// Addr implements net.Listener.
func (q *connQueue) Addr() net.Addr { return q.addr }
