package standalone

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portico-dev/portico/controllers/translate"
)

const serviceYAML = "apiVersion: v1\nkind: Service\nmetadata: {name: %s}\nspec: {ports: [{port: 80}]}\n"

func service(name string) string { return strings.ReplaceAll(serviceYAML, "%s", name) }

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// loadWithin runs load and fails the test if it does not return in 5 s: a
// load that blocks on a FIFO or reads /dev/zero must not hang the tests.
func loadWithin(t *testing.T, dir string, lim limits) (*translate.Snapshot, error) {
	t.Helper()
	type result struct {
		snap *translate.Snapshot
		err  error
	}
	done := make(chan result, 1)
	go func() {
		snap, _, err := load(dir, lim)
		done <- result{snap, err}
	}()
	select {
	case r := <-done:
		return r.snap, r.err
	case <-time.After(5 * time.Second):
		t.Fatalf("Load(%s) did not return within 5 s", dir)
		return nil, nil
	}
}

// wantFileError requires err to be a *FileError for file (Line 0: the
// whole file) whose message contains want.
func wantFileError(t *testing.T, err error, file string, line int, want string) {
	t.Helper()
	var fe *FileError
	if !errors.As(err, &fe) || fe.File != file || fe.Line != line || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want a FileError at %s:%d containing %q", err, file, line, want)
	}
}

func TestLoadRefusesSymlinkToDevZero(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.yaml"), service("a"))
	symlink(t, "/dev/zero", filepath.Join(dir, "zz.yaml"))
	_, err := loadWithin(t, dir, defaultLimits)
	wantFileError(t, err, filepath.Join(dir, "zz.yaml"), 0, "zz.yaml: is a character device, not a regular file")
}

func TestLoadRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "x.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatalf("making a FIFO (Linux always can): %v", err)
	}
	_, err := loadWithin(t, dir, defaultLimits)
	wantFileError(t, err, fifo, 0, "x.yaml: is a named pipe (FIFO), not a regular file")

	// A FIFO swapped in after the Stat check does not block the open and
	// is refused by the fstat of the opened file.
	_, _, err = openRegular(fifo)
	wantFileError(t, err, fifo, 0, "named pipe")
	done := make(chan error, 1)
	go func() { _, err := fingerprint(dir); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("fingerprint blocked on a FIFO")
	}
}

func TestLoadSymlinks(t *testing.T) {
	dir, elsewhere := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(elsewhere, "target.txt"), service("linked"))
	symlink(t, filepath.Join(elsewhere, "target.txt"), filepath.Join(dir, "linked.yaml"))
	snap, err := loadWithin(t, dir, defaultLimits)
	if err != nil || len(snap.Services) != 1 || snap.Services[0].Name != "linked" {
		t.Fatalf("symlink to a regular file: err %v, snapshot %+v", err, snap)
	}

	// A symlinked directory without a manifest name is not followed.
	symlink(t, elsewhere, filepath.Join(dir, "sub"))
	if _, err := loadWithin(t, dir, defaultLimits); err != nil {
		t.Fatal(err)
	}

	symlink(t, elsewhere, filepath.Join(dir, "dir.yaml"))
	_, err = loadWithin(t, dir, defaultLimits)
	wantFileError(t, err, filepath.Join(dir, "dir.yaml"), 0, "is a directory, not a regular file")
	os.Remove(filepath.Join(dir, "dir.yaml"))

	symlink(t, filepath.Join(elsewhere, "gone.yaml"), filepath.Join(dir, "dangling.yaml"))
	_, err = loadWithin(t, dir, defaultLimits)
	wantFileError(t, err, filepath.Join(dir, "dangling.yaml"), 0, "dangling.yaml: cannot read: no such file or directory")
}

// TestLoadConfigMapVolume lays files out as the kubelet does for a
// ConfigMap volume: the data in a hidden timestamped directory, a ..data
// symlink to it, and one top-level symlink per key through ..data. An update
// swaps ..data.
func TestLoadConfigMapVolume(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "..2024_01_01_00_00_00.1", "app.yaml"), service("v1"))
	symlink(t, "..2024_01_01_00_00_00.1", filepath.Join(dir, "..data"))
	symlink(t, "..data/app.yaml", filepath.Join(dir, "app.yaml"))
	snap, err := loadWithin(t, dir, defaultLimits)
	if err != nil || len(snap.Services) != 1 || snap.Services[0].Name != "v1" {
		t.Fatalf("err %v, snapshot %+v (want service v1 once)", err, snap)
	}
	fp1, err := fingerprint(dir)
	if err != nil {
		t.Fatal(err)
	}

	writeFile(t, filepath.Join(dir, "..2024_01_02_00_00_00.2", "app.yaml"), service("version2"))
	symlink(t, "..2024_01_02_00_00_00.2", filepath.Join(dir, "..data_tmp"))
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if fp2, err := fingerprint(dir); err != nil || fp2 == fp1 {
		t.Fatalf("fingerprint did not change with ..data (err %v)", err)
	}
	snap, err = loadWithin(t, dir, defaultLimits)
	if err != nil || len(snap.Services) != 1 || snap.Services[0].Name != "version2" {
		t.Fatalf("after the swap: err %v, snapshot %+v", err, snap)
	}

	// The volume directory itself may be reached through a symlink.
	link := filepath.Join(t.TempDir(), "manifests")
	symlink(t, dir, link)
	snap, err = loadWithin(t, link, defaultLimits)
	if err != nil || len(snap.Services) != 1 {
		t.Fatalf("through a symlinked directory: err %v, snapshot %+v", err, snap)
	}
}

func TestLoadRefusesOversizedFiles(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	writeFile(t, big, "")
	if err := os.Truncate(big, MaxFileSize+1); err != nil { // sparse: nothing is written
		t.Fatal(err)
	}
	_, err := loadWithin(t, dir, defaultLimits)
	wantFileError(t, err, big, 0, "big.yaml: larger than the limit of 16 MiB per manifest file")
	if err := os.Truncate(big, MaxFileSize); err != nil {
		t.Fatal(err)
	}
	if _, err := readManifest(big, defaultLimits, MaxTotalSize); err != nil {
		t.Fatalf("a file of exactly MaxFileSize: %v", err)
	}
	os.Remove(big)

	// The total over a directory, with small limits.
	writeFile(t, filepath.Join(dir, "a.yaml"), service("a"))
	writeFile(t, filepath.Join(dir, "b.yaml"), service("b"))
	lim := limits{file: 100, total: int64(len(service("a")) + 10)}
	_, err = loadWithin(t, dir, lim)
	wantFileError(t, err, filepath.Join(dir, "b.yaml"), 0,
		fmt.Sprintf("the manifest files together exceed the limit of %d bytes per directory", lim.total))

	// A file whose size is unknown to stat (as /proc files) is still cut
	// at the limit by the LimitReader.
	if _, err := os.Stat("/proc/self/maps"); err != nil {
		t.Fatal("no /proc/self/maps: these tests need Linux")
	}
	os.Remove(filepath.Join(dir, "b.yaml"))
	symlink(t, "/proc/self/maps", filepath.Join(dir, "proc.yaml"))
	_, err = loadWithin(t, dir, limits{file: 100, total: MaxTotalSize})
	wantFileError(t, err, filepath.Join(dir, "proc.yaml"), 0, "larger than the limit of 100 bytes per manifest file")
}

// TestWatchReportsFIFO: Watch does not block on a FIFO; it reports it, and
// loads once it is replaced by a regular file.
func TestWatchReportsFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "x.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatalf("making a FIFO (Linux always can): %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errs, applied, stopped := make(chan error, 10), make(chan *translate.Snapshot, 10), make(chan struct{})
	go func() {
		defer close(stopped)
		Watch(ctx, dir, 10*time.Millisecond, func(s *translate.Snapshot, _ []string) { applied <- s },
			func(err error) { errs <- err })
	}()
	defer func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			t.Error("Watch did not stop")
		}
	}()
	select {
	case err := <-errs:
		wantFileError(t, err, fifo, 0, "named pipe")
	case <-applied:
		t.Fatal("a directory with a FIFO was applied")
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not report the FIFO within 5 s")
	}
	if err := os.Remove(fifo); err != nil {
		t.Fatal(err)
	}
	writeFile(t, fifo, service("a"))
	// inotify may show the directory between the removal and the write
	// (empty, which loads): wait for the file.
	deadline := time.After(5 * time.Second)
	for {
		select {
		case s := <-applied:
			if len(s.Services) == 1 {
				return
			}
			if len(s.Services) != 0 {
				t.Fatalf("applied %+v", s)
			}
		case err := <-errs:
			t.Fatal(err)
		case <-deadline:
			t.Fatal("Watch did not load the replaced file within 5 s")
		}
	}
}
