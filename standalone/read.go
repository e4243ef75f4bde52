package standalone

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// MaxFileSize is the largest manifest file Load reads, in bytes. A larger
// file fails the load (the last good configuration keeps serving) instead of
// being read partially or exhausting memory.
const MaxFileSize = 16 << 20

// MaxTotalSize bounds the bytes Load reads from one directory, over all its
// manifest files. The file that crosses it fails the load.
const MaxTotalSize = 256 << 20

// limits are the read bounds of one load; tests shrink them.
type limits struct{ file, total int64 }

var defaultLimits = limits{file: MaxFileSize, total: MaxTotalSize}

// readManifest reads one manifest file, at most min(lim.file, remaining)
// bytes. Only regular files are read, also through symlinks (the files of a
// ConfigMap volume are symlinks into its ..data directory). Anything else — a
// FIFO, device, socket or directory named *.yaml — is refused before it is
// opened. The open does not block (O_NONBLOCK) and the opened file is checked
// again with fstat, in case it was swapped between the two; the read goes
// through a LimitReader, so a file growing meanwhile cannot pass the bound.
// Every refusal is a *FileError naming the file.
func readManifest(path string, lim limits, remaining int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, cannotRead(path, err)
	}
	if err := checkRegular(path, st); err != nil {
		return nil, err
	}
	f, st, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	limit := min(lim.file, remaining)
	if st.Size() > limit {
		return nil, tooLarge(path, lim, limit)
	}
	// Sized by the stat, so a large file is read without regrowing.
	buf := bytes.NewBuffer(make([]byte, 0, st.Size()+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, cannotRead(path, err)
	}
	data := buf.Bytes()
	if int64(len(data)) > limit {
		return nil, tooLarge(path, lim, limit)
	}
	return data, nil
}

// openRegular opens path without blocking (a FIFO opened for reading would
// wait for a writer) and returns it only if fstat says it is a regular file.
func openRegular(path string) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, cannotRead(path, err)
	}
	st, err := f.Stat()
	if err == nil {
		err = checkRegular(path, st)
	} else {
		err = cannotRead(path, err)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, st, nil
}

// checkRegular refuses anything but a regular file, naming what it is.
func checkRegular(path string, st fs.FileInfo) error {
	m := st.Mode()
	if m.IsRegular() {
		return nil
	}
	what := fmt.Sprintf("an irregular file (mode %v)", m)
	switch {
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeCharDevice != 0:
		what = "a character device"
	case m&fs.ModeDevice != 0:
		what = "a block device"
	}
	return &FileError{File: path, Err: fmt.Errorf("is %s, not a regular file; only regular files and symlinks to them are read", what)}
}

func tooLarge(path string, lim limits, limit int64) error {
	if limit < lim.file {
		return &FileError{File: path, Err: fmt.Errorf("the manifest files together exceed the limit of %s per directory", mib(lim.total))}
	}
	return &FileError{File: path, Err: fmt.Errorf("larger than the limit of %s per manifest file", mib(lim.file))}
}

func cannotRead(path string, err error) error {
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		err = pe.Err
	}
	return &FileError{File: path, Err: fmt.Errorf("cannot read: %w", err)}
}

// mib prints a limit in MiB when it is a whole number of them (the real
// limits), in bytes otherwise (the small limits of tests).
func mib(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
