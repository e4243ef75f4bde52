package router

import "sync/atomic"

// stackPool runs functions on long-lived goroutines whose stacks have
// already grown. net/http's HTTP/2 server starts a new goroutine for every
// stream, with the runtime's small starting stack; proxying a request is
// deep enough (routing, then the fasthttp client down to the socket) that
// such a goroutine grew its stack twice per request, copying it each time
// (a tenth of an HTTP/2 request's CPU). A pooled goroutine keeps the stack
// it grew.
//
// run never queues: when every worker is busy and the pool is full, the
// function runs on the caller's goroutine, so a slow request never waits
// behind another.
type stackPool struct {
	idle    chan *stackWorker
	workers atomic.Int32 // started and not stopped; at most cap(idle)
}

type stackWorker struct {
	in   chan func()
	done chan any // the function's panic value, or nil
}

func newStackPool(size int) *stackPool {
	return &stackPool{idle: make(chan *stackWorker, size)}
}

// run calls f on a pooled goroutine and returns when f has returned; a
// panic in f is raised again on the caller's goroutine.
func (p *stackPool) run(f func()) {
	if p == nil {
		f()
		return
	}
	var w *stackWorker
	select {
	case w = <-p.idle:
	default:
		if p.workers.Add(1) > int32(cap(p.idle)) {
			p.workers.Add(-1)
			f()
			return
		}
		w = &stackWorker{in: make(chan func()), done: make(chan any)}
		go w.loop()
	}
	w.in <- f
	v := <-w.done
	select {
	case p.idle <- w:
	default:
		p.workers.Add(-1)
		close(w.in)
	}
	if v != nil {
		panic(v)
	}
}

func (w *stackWorker) loop() {
	for f := range w.in {
		w.done <- w.call(f)
	}
}

func (w *stackWorker) call(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}
