//go:build !linux

package main

import "time"

// sleeper is Go's timer where there is no timerfd: up to a millisecond
// late, which then counts in every latency.
type sleeper struct{}

func newSleeper() (*sleeper, error) { return &sleeper{}, nil }

func (*sleeper) sleep(d time.Duration) { time.Sleep(d) }
