package main

import (
	"os"
	"syscall"
	"time"
	"unsafe"
)

// ticker wakes the pacer every period through a periodic timerfd in Go's
// network poller: the kernel's high-resolution timer, where Go's own
// timers wake up to a millisecond late when the process is otherwise idle,
// and the goroutine parks instead of holding its thread in a blocking
// syscall (which would make the runtime hand its P over and back on every
// tick). The kernel keeps the schedule: a late wake-up counts the ticks it
// missed, and the pacer sends everything due.
type ticker struct {
	f *os.File
}

// newTicker starts ticking now.
func newTicker(period time.Duration) (*ticker, error) {
	const clockMonotonic = 1
	fd, _, errno := syscall.Syscall(syscall.SYS_TIMERFD_CREATE, clockMonotonic, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errno != 0 {
		return nil, errno
	}
	// struct itimerspec: it_interval, it_value.
	p := [2]int64{int64(period / time.Second), int64(period % time.Second)}
	spec := [4]int64{p[0], p[1], p[0], p[1]}
	if _, _, errno := syscall.Syscall6(syscall.SYS_TIMERFD_SETTIME, fd, 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0); errno != 0 {
		_ = syscall.Close(int(fd))
		return nil, errno
	}
	// Non-blocking: os.NewFile puts it in the poller.
	return &ticker{f: os.NewFile(fd, "timerfd")}, nil
}

// wait returns at the next tick (at once after ticks already passed).
func (t *ticker) wait() {
	var expirations [8]byte
	_, _ = t.f.Read(expirations[:])
}
