//go:build !linux

package main

import "time"

// ticker is Go's timer where there is no timerfd: it may wake up to a
// millisecond late, which then counts in the latencies.
type ticker struct{ period time.Duration }

func newTicker(period time.Duration) (*ticker, error) { return &ticker{period}, nil }

func (t *ticker) wait() { time.Sleep(t.period) }
