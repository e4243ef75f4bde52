// Package dataplane owns the assembly of Portico's serving side, shared by
// controller and standalone modes: the Router, the certificate Store, the
// client-facing listeners, and Apply, which puts a translation Result live
// (certificates before the routes that need them).
package dataplane
