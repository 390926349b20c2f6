package closeday

import "github.com/prometheus/client_golang/prometheus"

// Close Day outcomes, as /metrics counts them.
const (
	closeReconciled = "reconciled" // the gateway's totals are ours
	closeDiffers    = "differs"    // closed, but the totals differ (or the bank's code is not 00)
	closeExplained  = "explained"  // a difference later accounted for, payment by payment
	closeFailed     = "failed"     // the close did not happen; its payments go into the next one
)

// Metrics are Close Day's business measurements in /metrics: what closes end as. The label
// is a small fixed set (outcomes), never a close's request id or a person.
type Metrics struct {
	closes *prometheus.CounterVec
}

// NewMetrics registers the close-day metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portal_close_days_total",
			Help: "Close Day outcomes: reconciled, differs, explained (a difference accounted for later) or failed."},
			[]string{"outcome"}),
	}
	reg.MustRegister(m.closes)
	// The known series start at zero, so that rate() sees the first close of each outcome.
	for _, o := range []string{closeReconciled, closeDiffers, closeExplained, closeFailed} {
		m.closes.WithLabelValues(o)
	}
	return m
}

// closed counts a close's outcome.
func (m *Metrics) closed(outcome string) { m.closes.WithLabelValues(outcome).Inc() }
