package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/standalone"
)

// Exit codes of `portico migrate`.
const (
	migrateSame    = 0 // nothing would change behaviour
	migrateChanges = 1 // something would: see the report
	migrateFailed  = 2 // usage or read error
)

const migrateUsage = `Usage: portico migrate ingress-nginx [--kubeconfig PATH | --manifests DIR] [--configmap NS/NAME] [-o text|json]

Reports, per Ingress of ingress-nginx's class and per annotation, what
Portico (with --ingress-nginx-compat) serves the same, serves with a noted
difference, does not serve or refuses, and the paths whose matching
changes. Exit code 1 when anything would change behaviour, 0 when
nothing would, 2 on usage or read errors.
`

// runMigrate is `portico migrate`; it returns the exit code.
func runMigrate(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "ingress-nginx" {
		fmt.Fprint(stderr, migrateUsage)
		return migrateFailed
	}
	fs := flag.NewFlagSet("migrate ingress-nginx", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kubeconfig := fs.String("kubeconfig", "", "read the Ingresses from this cluster (default, without --manifests: in-cluster config, then $KUBECONFIG)")
	dir := fs.String("manifests", "", "read the Ingresses from this directory of Kubernetes YAML instead of a cluster")
	cmRef := fs.String("configmap", standalone.DefaultNginxConfigMap, "namespace/name of ingress-nginx's controller ConfigMap (absent: its defaults)")
	output := fs.String("o", "text", "output format: text or json")
	fs.Usage = func() { fmt.Fprint(stderr, migrateUsage); fs.PrintDefaults() }
	if err := fs.Parse(args[1:]); err != nil {
		return migrateFailed
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "portico migrate:", err)
		return migrateFailed
	}
	switch {
	case fs.NArg() > 0:
		return fail(fmt.Errorf("unexpected arguments %q", fs.Args()))
	case *dir != "" && *kubeconfig != "":
		return fail(errors.New("--kubeconfig and --manifests exclude each other"))
	case *output != "text" && *output != "json":
		return fail(fmt.Errorf("-o %q: want text or json", *output))
	}
	if ns, name, ok := strings.Cut(*cmRef, "/"); !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return fail(fmt.Errorf("--configmap %q: want namespace/name", *cmRef))
	}
	var snap *translate.Snapshot
	var err error
	source := ""
	if *dir != "" {
		snap, _, err = standalone.Load(*dir)
		source = "manifests " + *dir
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		snap, err = readCluster(ctx, *kubeconfig, *cmRef)
		source = "cluster"
	}
	if err != nil {
		return fail(err)
	}
	cm, found, err := standalone.NginxConfig(snap, *cmRef)
	if err != nil {
		return fail(err)
	}
	rep := buildMigrateReport(snap, cm, found, *cmRef)
	rep.Source = source
	if *output == "json" {
		err = rep.writeJSON(stdout)
	} else {
		err = rep.writeText(stdout)
	}
	if err != nil {
		return fail(err)
	}
	if rep.Summary.Changes > 0 {
		return migrateChanges
	}
	return migrateSame
}

// readCluster lists what the report translates: IngressClasses, Ingresses,
// Services, EndpointSlices, the ConfigMap, and only the Secrets the
// Ingresses name. Any API error but a missing named object is an error.
func readCluster(ctx context.Context, kubeconfig, cmRef string) (*translate.Snapshot, error) {
	cfg, err := restConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("creating client: %w", err)
	}
	snap := &translate.Snapshot{}
	var classes networkingv1.IngressClassList
	var ings networkingv1.IngressList
	var svcs corev1.ServiceList
	var slices discoveryv1.EndpointSliceList
	for _, l := range []struct {
		what string
		list client.ObjectList
	}{{"IngressClasses", &classes}, {"Ingresses", &ings}, {"Services", &svcs}, {"EndpointSlices", &slices}} {
		if err := c.List(ctx, l.list); err != nil {
			return nil, fmt.Errorf("listing %s: %w", l.what, err)
		}
	}
	snap.IngressClasses, snap.Ingresses, snap.Services, snap.EndpointSlices = classes.Items, ings.Items, svcs.Items, slices.Items
	ns, name, _ := strings.Cut(cmRef, "/")
	var cm corev1.ConfigMap
	switch err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &cm); {
	case err == nil:
		snap.ConfigMaps = append(snap.ConfigMaps, cm)
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("getting ConfigMap %s: %w", cmRef, err)
	}
	for _, key := range namedSecrets(snap.Ingresses) {
		var s corev1.Secret
		switch err := c.Get(ctx, key, &s); {
		case err == nil:
			snap.Secrets = append(snap.Secrets, s)
		case !apierrors.IsNotFound(err):
			return nil, fmt.Errorf("getting Secret %s: %w", key, err)
		}
	}
	return snap, nil
}

// secretAnnotations name Secrets, as "name" or "namespace/name".
var secretAnnotations = []string{
	translate.NginxAnnotationPrefix + "auth-secret", translate.NginxAnnotationPrefix + "auth-tls-secret",
	translate.NginxAnnotationPrefix + "proxy-ssl-secret", translate.AnnotationClientCASecret,
}

// namedSecrets are the Secrets the Ingresses' TLS entries and annotations
// name, without duplicates.
func namedSecrets(ings []networkingv1.Ingress) []client.ObjectKey {
	seen := map[client.ObjectKey]bool{}
	var out []client.ObjectKey
	add := func(k client.ObjectKey) {
		if k.Name != "" && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for i := range ings {
		ing := &ings[i]
		for _, t := range ing.Spec.TLS {
			add(client.ObjectKey{Namespace: ing.Namespace, Name: t.SecretName})
		}
		for _, a := range secretAnnotations {
			v, ok := ing.Annotations[a]
			if !ok {
				continue
			}
			if ns, name, found := strings.Cut(v, "/"); found {
				add(client.ObjectKey{Namespace: ns, Name: name})
			} else {
				add(client.ObjectKey{Namespace: ing.Namespace, Name: v})
			}
		}
	}
	return out
}
