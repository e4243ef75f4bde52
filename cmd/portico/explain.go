package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/portico-dev/portico/controllers"
	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/standalone"
)

func runExplain(args []string) error { return explain(args, os.Stdout) }

// headerFlags collects repeated -H values.
type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

// explain prints how Portico would route one request: from a manifests
// directory (translated as `portico routes` does) or from the objects of
// a cluster.
func explain(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: portico explain [--manifests DIR | --kubeconfig PATH] [-H 'Name: value']... [--sni NAME] [-X METHOD] [-o text|json] URL")
		fs.PrintDefaults()
	}
	var c common
	c.register(fs, false)
	dir := fs.String("manifests", "", "directory of Kubernetes YAML to translate")
	kubeconfig := fs.String("kubeconfig", "", "read the objects from this cluster instead (\"-\": in-cluster config, then $KUBECONFIG)")
	namespace := fs.String("watch-namespace", "", "with --kubeconfig: only read this namespace, as the controller's --watch-namespace")
	var headers headerFlags
	fs.Var(&headers, "H", "request header 'Name: value' (repeatable)")
	sni := fs.String("sni", "", "TLS server name for https URLs (default: the URL's host)")
	method := fs.String("X", "GET", "request method")
	listener := fs.String("listener", "", "force a listener: \"ingress\" (the shared listeners) or a Gateway listener key Kind/namespace/name:port")
	output := fs.String("o", "text", "output format: text or json")
	// Flags may follow the URL too.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	if len(pos) != 1 {
		fs.Usage()
		return fmt.Errorf("explain: want one URL, got %d arguments", len(pos))
	}
	if (*dir == "") == (*kubeconfig == "") {
		return fmt.Errorf("explain: want exactly one of --manifests DIR and --kubeconfig PATH")
	}
	if *output != "text" && *output != "json" {
		return fmt.Errorf("explain: unknown output format %q (text or json)", *output)
	}
	opts, err := c.translate()
	if err != nil {
		return err
	}
	var snap *translate.Snapshot
	if *dir != "" {
		if snap, _, err = standalone.Load(*dir); err != nil {
			return err
		}
	} else {
		// As the controller translates: Istio Gateways on the shared
		// listeners, not one address each.
		if opts.Istio != nil {
			opts.Istio.PerGateway = false
		}
		path := *kubeconfig
		if path == "-" {
			path = ""
		}
		cfg, err := restConfig(path)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		snap, err = controllers.ListSnapshot(ctx, cfg, controllers.SnapshotOptions{Namespace: *namespace,
			GatewayAPI: opts.GatewayControllerName != "", Istio: opts.Istio != nil})
		if err != nil {
			return err
		}
	}
	live, err := standalone.LiveFromSnapshot(snap, opts)
	if err != nil {
		return err
	}
	v, err := live.Explain(standalone.ExplainQuery{URL: pos[0], Method: *method, Headers: headers, SNI: *sni, Listener: *listener})
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	if *output == "json" {
		return v.WriteJSON(w)
	}
	return v.WriteText(w)
}
