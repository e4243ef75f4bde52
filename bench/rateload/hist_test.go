package main

import (
	"testing"
	"time"
)

func TestBucketRoundTrip(t *testing.T) {
	for _, v := range []uint64{0, 1, 255, 256, 257, 511, 512, 1000, 123456, 1e9, 7e12, 1 << 62} {
		got := value(bucket(v))
		diff := float64(got) - float64(v)
		if diff < 0 {
			diff = -diff
		}
		if diff > float64(v)/128+1 {
			t.Errorf("value(bucket(%d)) = %d: off by more than 1/128", v, got)
		}
	}
	for v := uint64(1); v < 1<<20; v++ {
		if bucket(v) < bucket(v-1) {
			t.Fatalf("bucket(%d) < bucket(%d): not monotonic", v, v-1)
		}
	}
}

func TestQuantiles(t *testing.T) {
	h := newHist()
	if h.quantile(0.5) != 0 {
		t.Fatal("empty histogram: want 0")
	}
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {0.999, 999 * time.Microsecond}, {1, time.Millisecond}} {
		got := h.quantile(c.q)
		if d := got - c.want; d > c.want/100 || d < -c.want/100 {
			t.Errorf("quantile(%v) = %v, want %v within 1%%", c.q, got, c.want)
		}
	}
	h.record(-time.Second)
	if h.quantile(0) != 0 {
		t.Error("a negative duration should count as zero")
	}
}
