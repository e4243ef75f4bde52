package translate

import (
	"cmp"
	"slices"

	"github.com/portico-dev/portico/router"
)

// Translate turns a Snapshot into a Result. It is pure: see the package doc.
func Translate(s *Snapshot, opts Options) Result {
	t := newTranslator(s, opts)
	t.ingresses()
	t.controllerDefault()
	slices.SortStableFunc(t.res.Problems, func(a, b Problem) int {
		return cmp.Or(
			cmp.Compare(a.Object.Kind, b.Object.Kind),
			cmp.Compare(a.Object.Namespace, b.Object.Namespace),
			cmp.Compare(a.Object.Name, b.Object.Name),
			cmp.Compare(a.Field, b.Field),
		)
	})
	return t.res
}

// translator holds the indexes and claims of one Translate call.
type translator struct {
	snap     *Snapshot
	opts     Options
	res      Result
	backends *backendResolver
	claims   map[claimKey]ObjectRef
	// defaultFrom is the Ingress whose spec.defaultBackend is in use.
	defaultFrom *ObjectRef
}

// claimKey identifies what a route claims: two routes with the same key
// conflict, whatever their backends.
type claimKey struct {
	hostMatch router.HostMatch
	host      string
	pathMatch router.PathMatch
	path      string
}

func newTranslator(s *Snapshot, opts Options) *translator {
	return &translator{
		snap:     s,
		opts:     opts,
		backends: newBackendResolver(s),
		claims:   map[claimKey]ObjectRef{},
	}
}

func (t *translator) problem(obj ObjectRef, field string, sev Severity, reason, msg string) {
	t.res.Problems = append(t.res.Problems, Problem{Object: obj, Field: field, Severity: sev, Reason: reason, Message: msg})
}
