package main

import (
	"os"
	"syscall"
	"time"
	"unsafe"
)

// sleeper wakes the pacer through a timerfd in Go's network poller: the
// kernel's high-resolution timer, where Go's own timers wake up to a
// millisecond late when the process is otherwise idle, and the goroutine
// parks instead of holding its thread in a blocking syscall (nanosleep),
// which would make the runtime hand its P over and back for every request.
type sleeper struct {
	f  *os.File
	fd uintptr
}

func newSleeper() (*sleeper, error) {
	const clockMonotonic = 1
	fd, _, errno := syscall.Syscall(syscall.SYS_TIMERFD_CREATE, clockMonotonic, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errno != 0 {
		return nil, errno
	}
	// Non-blocking: os.NewFile puts it in the poller.
	return &sleeper{f: os.NewFile(fd, "timerfd"), fd: fd}, nil
}

// sleep returns after d (or at once on an error: the pacer then spins).
func (s *sleeper) sleep(d time.Duration) {
	// struct itimerspec: it_interval (zero: one shot), it_value.
	spec := [4]int64{0, 0, int64(d / time.Second), int64(d % time.Second)}
	if _, _, errno := syscall.Syscall6(syscall.SYS_TIMERFD_SETTIME, s.fd, 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0); errno != 0 {
		return
	}
	var expirations [8]byte
	_, _ = s.f.Read(expirations[:])
}
