package main

import (
	"context"
	"flag"
	"io"
	"os/signal"
	"syscall"

	harness "github.com/portico-dev/portico/envtest"
)

// serveDNS answers every query NXDOMAIN on :53 (UDP and TCP), standing in
// for the conformance suite's coredns pod. Unknown flags (coredns's) are
// ignored.
func serveDNS(args []string) error {
	fs := flag.NewFlagSet("dns", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", ":53", "listen address")
	_ = fs.Parse(args)
	d, err := harness.ServeDNS(*addr, nil)
	if err != nil {
		return err
	}
	defer d.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	<-ctx.Done()
	return nil
}
