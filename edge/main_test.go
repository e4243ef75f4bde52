//go:build edge

// Package edge is Portico's adversarial edge suite (`make test-edge`): it
// runs the real portico binary as a process (package edgetest) and attacks
// it over loopback with raw sockets — request smuggling framings, path
// encodings, hop-by-hop and forwarding-header abuse, header/URI limits,
// slowloris and stalled bodies, and overload. Tests are written to RFC 9110
// and RFC 9112 and to the text of issue 10, not to current behaviour.
package edge

import (
	"os"
	"testing"

	"github.com/portico-dev/portico/edge/edgetest"
)

// TestMain builds portico once (go build ./cmd/portico into a temporary
// directory) before any test runs; a build failure fails the run.
func TestMain(m *testing.M) { os.Exit(edgetest.Main(m)) }
