package controllers

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-dev/portico/router"
)

// controllerMetrics are the control plane's Prometheus collectors.
type controllerMetrics struct {
	duration    *prometheus.HistogramVec
	propagation *prometheus.HistogramVec
}

func newControllerMetrics(reg prometheus.Registerer) *controllerMetrics {
	m := &controllerMetrics{duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "portico_reconcile_duration_seconds",
		Help:    "Time to list, translate, compile and swap the routing table (and write status as leader), by result.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
	}, []string{"result"})}
	m.duration = router.Register(reg, m.duration)
	m.propagation = router.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "portico_propagation_seconds",
		Help: "Time from the moment the controller saw a change of an object (by kind) to the swap of the routing table that serves it.",
		// 0.5 ms to 16 s.
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	}, []string{"kind"}))
	return m
}

// propagated observes, for each change, the time from its first event to
// the swap of the table serving it.
func (m *controllerMetrics) propagated(changes map[changeKey]change, swapped time.Time) {
	if m == nil {
		return
	}
	for k, c := range changes {
		m.propagation.WithLabelValues(k.kind).Observe(swapped.Sub(c.seen).Seconds())
	}
}

func (m *controllerMetrics) observe(start time.Time, err error) {
	if m == nil {
		return
	}
	result := "success"
	if err != nil {
		result = "error"
	}
	m.duration.WithLabelValues(result).Observe(time.Since(start).Seconds())
}
