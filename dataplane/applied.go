package dataplane

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"
)

// AppliedLog records, for each configuration object ("Kind/namespace/name"),
// the generation of the routing table that first served its latest change
// and when that table was swapped in. It answers "is my change live yet?"
// (the admin endpoint /debug/applied and `portico routes`). It is safe for
// concurrent use; a deleted object's entry is kept, marked deleted, until
// Forget.
type AppliedLog struct {
	mu sync.Mutex
	m  map[string]Applied
	// gone lists the deletions in the order recorded, so that Forget
	// looks at them only, not at every object's entry (it runs after
	// every change).
	gone []goneEntry
}

type goneEntry struct {
	object string
	t      time.Time
}

// Applied is one object's entry in an AppliedLog.
type Applied struct {
	Object     string    `json:"object"`
	Generation uint64    `json:"generation"`
	Time       time.Time `json:"time"`
	Deleted    bool      `json:"deleted,omitempty"`
	// Took, when known, is how long the change took from being seen
	// (watch event, file read) to being served.
	Took time.Duration `json:"took,omitempty"`
}

// NewAppliedLog returns an empty log.
func NewAppliedLog() *AppliedLog { return &AppliedLog{m: map[string]Applied{}} }

// Record notes that the table of generation gen, swapped in at t, serves
// the latest state of object.
func (l *AppliedLog) Record(object string, deleted bool, gen uint64, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.m[object] = Applied{Object: object, Generation: gen, Time: t, Deleted: deleted}
	if deleted {
		l.gone = append(l.gone, goneEntry{object, t})
	}
}

// RecordChange is Record for a change seen at seen: its entry also says
// how long it took to go live.
func (l *AppliedLog) RecordChange(object string, deleted bool, gen uint64, seen, live time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.m[object] = Applied{Object: object, Generation: gen, Time: live, Deleted: deleted, Took: live.Sub(seen)}
	if deleted {
		l.gone = append(l.gone, goneEntry{object, live})
	}
}

// Forget drops the entries of deleted objects applied before t (taking
// the deletions in the order they were recorded: one recorded after a
// deletion applied at or after t waits for a later Forget). It costs the
// deletions it drops, not the size of the log.
func (l *AppliedLog) Forget(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := 0
	for ; i < len(l.gone) && l.gone[i].t.Before(t); i++ {
		if a, ok := l.m[l.gone[i].object]; ok && a.Deleted && a.Time.Before(t) {
			delete(l.m, l.gone[i].object)
		}
	}
	if i > 0 {
		l.gone = append([]goneEntry(nil), l.gone[i:]...)
	}
}

// Get returns an object's entry.
func (l *AppliedLog) Get(object string) (Applied, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.m[object]
	return a, ok
}

// All returns every entry, sorted by object.
func (l *AppliedLog) All() []Applied {
	l.mu.Lock()
	out := make([]Applied, 0, len(l.m))
	for _, a := range l.m {
		out = append(out, a)
	}
	l.mu.Unlock()
	slices.SortFunc(out, func(a, b Applied) int {
		switch {
		case a.Object < b.Object:
			return -1
		case a.Object > b.Object:
			return 1
		}
		return 0
	})
	return out
}

// ServeHTTP answers with the entries as JSON: all of them, or with
// ?object=Kind/namespace/name only that one (404 when unknown).
func (l *AppliedLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if o := r.URL.Query().Get("object"); o != "" {
		a, ok := l.Get(o)
		if !ok {
			http.Error(w, `{"error":"object not applied yet"}`, http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(a)
		return
	}
	_ = json.NewEncoder(w).Encode(l.All())
}
