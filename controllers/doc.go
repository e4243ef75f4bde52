// Package controllers owns Portico's control plane in a cluster: the
// reconciler, whose watches record every changed object (changes.go) and
// whose rebuild (rebuild.go) gives them to the incremental
// translate.Engine and swaps the table it returns; it publishes addresses
// into Ingress status and turns translation problems into Events (leader
// only, for what changed); the cache transforms that keep only what
// Portico reads (transform.go); and Run, which wires the manager, the proxy
// listeners, health and metrics together.
package controllers
