package jobs

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the jobs' measurements in /metrics.
type Metrics struct {
	pollLag prometheus.Histogram
}

// NewMetrics registers the jobs' metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		// The schedule is 3 s, then every 5 s: a lag of seconds means the poller cannot keep up.
		pollLag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "portal_status_check_lag_seconds",
			Help:    "How late a due status check started, against the time it was due.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}}),
	}
	reg.MustRegister(m.pollLag)
	return m
}
