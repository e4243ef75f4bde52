package main

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Stamped by the linker (`make build` and `make image` pass
// -X main.version=… -X main.gitCommit=… -X main.buildDate=…); an unstamped
// build (plain `go build`) reports "dev" and, where the Go toolchain
// recorded it, the VCS revision from the build info.
var (
	version   = "dev"
	gitCommit = ""
	buildDate = ""
)

// versionInfo is what `portico version` prints.
type versionInfo struct {
	Version   string
	GitCommit string
	BuildDate string
	GoVersion string
	Platform  string
}

// currentVersion returns the stamped values, falling back on the build
// info's vcs.revision and vcs.time for unstamped builds.
func currentVersion() versionInfo {
	v := versionInfo{Version: version, GitCommit: gitCommit, BuildDate: buildDate,
		GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && v.GitCommit == "":
				v.GitCommit = s.Value
			case s.Key == "vcs.time" && v.BuildDate == "":
				v.BuildDate = s.Value
			}
		}
	}
	if v.GitCommit == "" {
		v.GitCommit = "unknown"
	}
	if v.BuildDate == "" {
		v.BuildDate = "unknown"
	}
	return v
}

// printVersion writes the version block.
func printVersion(w io.Writer) {
	v := currentVersion()
	fmt.Fprintf(w, "portico %s\n  git commit: %s\n  build date: %s\n  go:         %s\n  platform:   %s\n",
		v.Version, v.GitCommit, v.BuildDate, v.GoVersion, v.Platform)
}

// runVersion is `portico version [--short]`.
func runVersion(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	short := fs.Bool("short", false, "print the version only")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *short {
		_, err := fmt.Fprintln(w, currentVersion().Version)
		return err
	}
	printVersion(w)
	return nil
}
