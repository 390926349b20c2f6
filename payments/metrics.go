package payments

import (
	"github.com/example/mposportal/models"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the payments' business measurements in /metrics: what payments and operations
// end as. Every label is a small fixed set (kinds, states, currencies), never an order id, a
// serial or a person.
type Metrics struct {
	payments *prometheus.CounterVec
	amounts  *prometheus.CounterVec
}

// NewMetrics registers the payment metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		payments: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portal_payments_total",
			Help: "Payments and operations that reached a final state, by kind and the final state they first reached."},
			[]string{"kind", "state"}),
		amounts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portal_payment_amount_minor_total",
			Help: "Approved amounts in minor units (cents), by kind and currency."}, []string{"kind", "currency"}),
	}
	reg.MustRegister(m.payments, m.amounts)
	// The known series start at zero, so that rate() sees the first payment of each kind.
	for _, k := range []models.TxKind{models.KindSale, models.KindPreauth, models.KindCapture, models.KindRelease, models.KindRefund} {
		for _, s := range models.AllTxStates {
			if s.Final() {
				m.payments.WithLabelValues(string(k), string(s))
			}
		}
	}
	return m
}

// Final counts a payment that reached its final state (models.Transactions.OnFinal).
func (m *Metrics) Final(t models.Transaction) {
	m.payments.WithLabelValues(string(t.Kind), string(t.State)).Inc()
	if t.State == models.TxApproved {
		m.amounts.WithLabelValues(string(t.Kind), t.Currency).Add(float64(t.AmountMinor))
	}
}
