package controllers

import (
	"net/http"
	"sync/atomic"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/dataplane"
	"github.com/portico-dev/portico/router"
)

// DebugHandlers builds the metrics server's read-only debug pages (beside
// /debug/applied) from the data plane, the problems of the translation
// being served, and the applied log. It returns one handler per path.
type DebugHandlers func(dp *dataplane.Dataplane, problems func() []translate.Problem, applied *dataplane.AppliedLog) map[string]http.Handler

// lateHandler serves a handler set after the server was configured (the
// metrics server is configured before the data plane exists); 404 until
// then.
type lateHandler struct{ h atomic.Pointer[http.Handler] }

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := l.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	http.NotFound(w, r)
}

func (l *lateHandler) set(h http.Handler) { l.h.Store(&h) }

// currentProblems gives the debug pages, which run on other goroutines,
// the problems of the table being served. After a whole translation they
// are the Result's, kept as they are; after an incremental one they are
// asked of the Engine when a page wants them (under the Reconciler's
// engineMu), not collected on every change: that walk costs what the
// whole cluster holds (tens of milliseconds at 50,000 Ingresses), and
// would delay the next change while a burst applies.
type currentProblems struct {
	r     *Reconciler
	fixed atomic.Pointer[[]translate.Problem] // nil: ask the Engine
	table atomic.Pointer[router.Table]        // its drops, for the Engine's problems
}

func (c *currentProblems) get() []translate.Problem {
	if p := c.fixed.Load(); p != nil {
		return *p
	}
	c.r.engineMu.Lock()
	defer c.r.engineMu.Unlock()
	if p := c.fixed.Load(); p != nil { // a whole translation came in meanwhile
		return *p
	}
	if c.r.engine == nil {
		return nil
	}
	problems := c.r.engine.AllProblems()
	if t := c.table.Load(); t != nil {
		problems = append(problems, translate.DropProblems(t.Dropped())...)
	}
	return problems
}

// trackProblems records after a rebuild where the problems of the table
// now served are: the whole Result's, else the Engine's (see
// currentProblems). It runs with engineMu held.
func (r *Reconciler) trackProblems(u translate.Update, res *translate.Result, table *router.Table) {
	if r.problems == nil {
		return
	}
	r.problems.table.Store(table)
	if u.Whole {
		problems := res.Problems
		r.problems.fixed.Store(&problems)
		return
	}
	r.problems.fixed.Store(nil)
}
