// Package translate owns the pure translation from a Snapshot of Kubernetes
// objects to what Portico serves: a router.Config, the objects Portico owns,
// and every problem found, each naming its object and field path.
//
// Translate uses no client, no clock and no logging, and never modifies its
// input: the same Snapshot always gives the same Result.
package translate
