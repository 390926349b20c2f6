package devices

import (
	"context"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Close Day outcomes, as /metrics counts them.
const (
	closeReconciled = "reconciled" // the gateway's totals are ours
	closeDiffers    = "differs"    // closed, but the totals differ (or the bank's code is not 00)
	closeExplained  = "explained"  // a difference later accounted for, payment by payment
	closeFailed     = "failed"     // the close did not happen; its payments go into the next one
)

// OnlineCounter counts the readers whose presence is online.
type OnlineCounter interface {
	CountOnline(ctx context.Context) (int64, error)
}

// Metrics are the business measurements in /metrics: what closes end as, and the fleet's
// presence. Every label is a small fixed set (outcomes), never a serial or a person.
type Metrics struct {
	closes *prometheus.CounterVec
}

// NewMetrics registers the business metrics with reg.
func NewMetrics(reg prometheus.Registerer, readers OnlineCounter) *Metrics {
	m := &Metrics{
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portal_close_days_total",
			Help: "Close Day outcomes: reconciled, differs, explained (a difference accounted for later) or failed."},
			[]string{"outcome"}),
	}
	// Presence is in the database, so every instance reports the whole fleet.
	online := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "portal_readers_online",
		Help: "Readers online (heartbeating), on every instance."}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := readers.CountOnline(ctx)
		if err != nil {
			return math.NaN() // unknown, not zero: a database outage must not read as a dead fleet
		}
		return float64(n)
	})
	reg.MustRegister(m.closes, online)
	for _, o := range []string{closeReconciled, closeDiffers, closeExplained, closeFailed} {
		m.closes.WithLabelValues(o)
	}
	return m
}

// closed counts a close's outcome; a nil *Metrics counts nothing (tests).
func (m *Metrics) closed(outcome string) {
	if m != nil {
		m.closes.WithLabelValues(outcome).Inc()
	}
}
