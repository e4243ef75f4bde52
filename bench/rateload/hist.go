package main

import (
	"math"
	"math/bits"
	"time"
)

// subBits sets the histogram's precision: values below 1<<subBits ns are
// kept exactly, larger ones in 1<<(subBits-1) buckets per power of two, so
// a reported value is within 1/128 (0.8%) of a recorded one.
const subBits = 8

// hist is a log-linear (HDR-style) histogram of durations. Recording is a
// few instructions and never allocates; the zero value is not usable, use
// newHist.
type hist struct {
	counts []uint64
	n      uint64
	max    time.Duration
}

func newHist() *hist {
	return &hist{counts: make([]uint64, 1<<subBits+(64-subBits)<<(subBits-1))}
}

func bucket(v uint64) int {
	if v < 1<<subBits {
		return int(v)
	}
	e := bits.Len64(v) - subBits // ≥ 1: v>>e has subBits bits
	return 1<<subBits + (e-1)<<(subBits-1) + int(v>>e) - 1<<(subBits-1)
}

// value returns the middle of bucket i.
func value(i int) uint64 {
	if i < 1<<subBits {
		return uint64(i)
	}
	i -= 1 << subBits
	e := i>>(subBits-1) + 1
	m := uint64(i&(1<<(subBits-1)-1) + 1<<(subBits-1))
	return m<<e + 1<<(e-1)
}

// record adds one duration; negative ones count as zero.
func (h *hist) record(d time.Duration) {
	d = max(d, 0)
	h.counts[bucket(uint64(d))]++
	h.n++
	h.max = max(h.max, d)
}

// quantile returns the smallest recorded value (within the bucket's
// precision) that at least q of the values do not exceed; 0 when empty.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			return min(time.Duration(value(i)), h.max)
		}
	}
	return h.max
}
