package controllers

import (
	"net/http"
	"sync/atomic"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/dataplane"
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

// currentProblems holds the problems of the table being served, for the
// debug pages, which read them from other goroutines.
type currentProblems struct {
	p atomic.Pointer[[]translate.Problem]
}

func (c *currentProblems) get() []translate.Problem {
	if p := c.p.Load(); p != nil {
		return *p
	}
	return nil
}

// trackProblems stores the problems after a rebuild: the whole Result's,
// else the Engine's (the Engine is not safe for concurrent use, so they
// are copied out here, after the new table went live).
func (r *Reconciler) trackProblems(u translate.Update, res *translate.Result) {
	if r.problems == nil {
		return
	}
	problems := res.Problems
	if !u.Whole {
		problems = append(r.engine.AllProblems(), translate.DropProblems(u.Table.Dropped())...)
	}
	r.problems.p.Store(&problems)
}
