package controllers

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-dev/portico/router"
)

// controllerMetrics are the control plane's Prometheus collectors.
type controllerMetrics struct {
	duration *prometheus.HistogramVec
}

func newControllerMetrics(reg prometheus.Registerer) *controllerMetrics {
	m := &controllerMetrics{duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "portico_reconcile_duration_seconds",
		Help:    "Time to list, translate, compile and swap the routing table (and write status as leader), by result.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
	}, []string{"result"})}
	m.duration = router.Register(reg, m.duration)
	return m
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
