package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	o := options{}
	flag.StringVar(&o.Root, "root", ".", "repository root (the main module)")
	flag.StringVar(&o.Out, "out", "_output", "output directory")
	flag.StringVar(&o.Package, "package", "./cmd/portico", "Go package of the entrypoint")
	platforms := flag.String("platforms", "linux/amd64,linux/arm64", "comma-separated platforms")
	flag.StringVar(&o.Version, "version", "dev", "version (label, -X main.version)")
	flag.StringVar(&o.Revision, "revision", "", "git commit (label, -X main.gitCommit)")
	flag.StringVar(&o.Source, "source", "https://github.com/portico-dev/portico", "source URL label")
	flag.StringVar(&o.Repository, "repository", "ghcr.io/portico-dev/portico", "image repository (ref names)")
	flag.StringVar(&o.CABundle, "ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "CA certificates copied into the image")
	epoch := flag.String("source-date-epoch", os.Getenv("SOURCE_DATE_EPOCH"), "Unix time of every timestamp (the commit time)")
	flag.Parse()
	o.Platforms = strings.Split(*platforms, ",")
	sec, err := strconv.ParseInt(*epoch, 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "portico-image: --source-date-epoch (or SOURCE_DATE_EPOCH) must be a Unix time:", err)
		os.Exit(2)
	}
	o.Epoch = time.Unix(sec, 0).UTC()
	res, err := build(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "portico-image:", err)
		os.Exit(1)
	}
	fmt.Println(res.Digest)
}
