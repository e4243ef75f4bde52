// Command portico is the Portico ingress controller: `portico controller`
// in a cluster, `portico standalone` from YAML files, and `portico routes`
// to print what a directory of YAML would serve.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/portico-dev/portico/dataplane"
)

const usage = `portico: a Kubernetes ingress controller with its own L7 proxy

Usage:
  portico controller [flags]             run in a cluster (in-cluster config or --kubeconfig)
  portico standalone --manifests DIR     serve Kubernetes YAML from DIR without a cluster
  portico routes --manifests DIR [-o json]  print the routing table and problems, then exit
  portico explain [--manifests DIR | --kubeconfig PATH] [-H 'Name: v']... [--sni NAME] [-X METHOD] [-o json] URL
                                         how one request is routed: listener, host, candidates, winner, backends, problems
  portico migrate ingress-nginx [--kubeconfig PATH | --manifests DIR] [--configmap NS/NAME] [-o json]
                                         report what changes when Portico replaces ingress-nginx
  portico version [--short]              print the version, git commit and build date (also --version)

Run "portico COMMAND -h" for the flags of a command.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	go dataplane.ReturnMemory(context.Background())
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "controller":
		err = runController(args)
	case "standalone":
		err = runStandalone(args)
	case "routes":
		err = runRoutes(args)
	case "explain":
		err = runExplain(args)
	case "migrate":
		os.Exit(runMigrate(args, os.Stdout, os.Stderr))
	case "version", "--version", "-version":
		err = runVersion(args, os.Stdout)
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "portico: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "portico:", err)
		os.Exit(1)
	}
}
