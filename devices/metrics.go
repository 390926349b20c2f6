package devices

import (
	"context"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// OnlineCounter counts the readers whose presence is online.
type OnlineCounter interface {
	CountOnline(ctx context.Context) (int64, error)
}

// RegisterMetrics registers the fleet's business measurement with reg: how many readers are
// online.
func RegisterMetrics(reg prometheus.Registerer, readers OnlineCounter) {
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
	reg.MustRegister(online)
}
