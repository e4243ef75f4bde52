// Package controllers owns Portico's control plane in a cluster: the
// reconciler that lists watched objects into a translate.Snapshot, compiles
// and swaps the routing table, publishes addresses into Ingress status
// (leader only), and turns translation problems into Events; and Run, which
// wires the manager, the proxy listeners, health and metrics together.
package controllers
