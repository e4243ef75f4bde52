// Command portico-devcluster runs a small real cluster on this machine
// (etcd, kube-apiserver, kube-controller-manager, a pod runner standing in
// for the kubelet, a loopback LoadBalancer provider) with Portico deployed
// from manifests/, for local development and the conformance suite.
//
//	portico-devcluster up    start it, print `export KUBECONFIG=…`, run until Ctrl-C
//	                         (--image-layout _output/image: Portico runs from its image)
//	portico-devcluster dns   a DNS server answering NXDOMAIN (the suite's coredns image)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	harness "github.com/portico-dev/portico/envtest"
)

func main() {
	args := os.Args[1:]
	cmd := "up"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "up":
		err = up(args)
	case "dns":
		err = serveDNS(args)
	default:
		err = fmt.Errorf("unknown command %q (up, dns)", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "portico-devcluster:", err)
		os.Exit(1)
	}
}

func up(args []string) error {
	fs := flag.NewFlagSet("up", flag.ExitOnError)
	deploy := fs.Bool("deploy-portico", true, "deploy Portico from manifests/ (its pod runs the local build)")
	layout := fs.String("image-layout", "", "run Portico's pods from this OCI image layout's root filesystem (make image: _output/image) instead of the host build")
	_ = fs.Parse(args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logf := func(f string, a ...any) { fmt.Fprintf(os.Stderr, "devcluster: "+f+"\n", a...) }
	c, err := harness.StartDevCluster(ctx, harness.DevOptions{Root: ".", DeployPortico: *deploy, ImageLayout: *layout, Log: logf})
	if err != nil {
		return err
	}
	defer c.Stop()
	fmt.Printf("export KUBECONFIG=%s\n", c.Kubeconfig)
	if *deploy {
		fmt.Printf("# Portico's Service (Ingress, Istio ports): %s; each Gateway gets its own 127.0.100.x (kubectl get gateway)\n",
			c.LB.Address("portico-system", "portico"))
	}
	<-ctx.Done()
	logf("stopping")
	return nil
}
