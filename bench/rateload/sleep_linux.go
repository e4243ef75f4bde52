package main

import (
	"syscall"
	"time"
)

// fineTimerSlack lowers the calling thread's timer slack from Linux's
// default 50 µs to 1 ns, so that nanosleep wakes when asked.
func fineTimerSlack() {
	const prSetTimerSlack = 29
	_, _, _ = syscall.Syscall(syscall.SYS_PRCTL, prSetTimerSlack, 1, 0)
}

// nanosleep sleeps d on the calling thread (Go's timers wake up to a
// millisecond late when the process is otherwise idle).
func nanosleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	_ = syscall.Nanosleep(&ts, nil)
}
