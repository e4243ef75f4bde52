// Package edgetest is the harness of Portico's adversarial edge suite
// (package edge, `make test-edge`). It treats Portico as a black box: it
// builds the real `portico` binary once per test binary run (Main), starts
// it as a process in standalone mode on manifests written into a temporary
// directory (Start), and talks to it only over loopback (127.0.0.1).
//
// What it owns:
//
//   - Process life cycle: Main (build in TestMain), Start/TryStart (start,
//     wait for the bound addresses and /readyz on the admin address), Stop,
//     and the process's output, which is written into the test log when the
//     test failed. RSS and FDs read /proc for resource bounds.
//   - Manifests: YAML helpers for the objects standalone mode serves
//     (IngressClass, Ingress, Service + EndpointSlice pointing at a Backend,
//     GatewayClass, Gateway, HTTPRoute) and FreePort for Gateway listeners.
//   - Backend: a raw-TCP HTTP/1.1 origin server on 127.0.0.1 that parses
//     requests itself, strictly, and records per upstream connection every
//     request it got (method, target, header fields in order, body, and
//     whether the body was complete or cut), so tests can tell exactly what
//     Portico forwarded: two requests where the client sent one, a cut body,
//     a header that should have been removed.
//   - Raw client: RawConn and Exchange send exact bytes to Portico and read
//     the response(s) with deadlines, and tell whether Portico closed the
//     connection.
//
// Every wait in the package is bounded in time, and nothing is skipped: a
// missing prerequisite (the binary does not build, a flag does not exist,
// Portico does not become ready) is a test failure with the reason.
package edgetest
