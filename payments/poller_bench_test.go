package payments_test

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/example/mposportal/jobs"
	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/mapi/sandbox"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/payments"
	"github.com/example/mposportal/payments/paymentstest"
)

// BenchmarkPollerScale keeps POLL_ORDERS (default 10,000) payments pending at the sandbox
// (amounts ending .77 stay "processing") and runs the real status poller against it over
// HTTP for POLL_SECONDS (default 20) on the real 3 s / 5 s schedule. It reports the schedule
// lag (check start minus the time the payment was due) and checks/s, next to the ceiling
// measured in the same run: signed status requests/s that the sandbox answers to bare
// clients with no portal work at all.
//
//	go test -run '^$' -bench PollerScale -benchtime 1x ./payments/
func BenchmarkPollerScale(b *testing.B) {
	orders, seconds := envInt("POLL_ORDERS", 10_000), envInt("POLL_SECONDS", 20)
	e := paymentstest.NewWith(b, "", func(c *sandbox.Config) { c.LongProcessing = time.Hour })
	e.Pay.Now = time.Now
	e.Tx.Batch = models.NewGroupCommit(e.DB, 256)
	b.Cleanup(e.Tx.Batch.Close)
	ctx := context.Background()

	// The pending orders, created at the gateway from real card reads, and the portal's rows.
	type created struct{ client, order string }
	made := make([]created, orders)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= orders {
					return
				}
				mu.Lock() // the virtual reader's KSN counter is not for concurrent use
				req := e.Request(1077)
				mu.Unlock()
				resp, err := e.Client.Sale(ctx, req)
				if err != nil {
					b.Error(err)
					return
				}
				made[i] = created{req.ClientOrderID, resp.OrderID}
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	// Ceiling: signed status requests from 16 bare clients, for a fifth of the run.
	var sent atomic.Int64
	cctx, stop := context.WithTimeout(ctx, time.Duration(seconds)*time.Second/5)
	t0 := time.Now()
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; cctx.Err() == nil; i += 16 {
				m := made[i%orders]
				if _, err := e.Client.Status(ctx, mapi.StatusRequest{ClientOrderID: m.client, OrderID: m.order}); err == nil {
					sent.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	stop()
	ceiling := float64(sent.Load()) / time.Since(t0).Seconds()

	now := time.Now()
	rows := make([]models.Transaction, orders)
	for i, m := range made {
		due := now.Add(time.Duration(rand.Int64N(int64(payments.CheckEvery)))) // spread over one cycle from now, like steady traffic
		rows[i] = models.Transaction{ClientOrderID: m.client, GatewayOrderID: m.order, EndpointID: 1, ReaderID: e.ReaderID,
			ReaderSerial: e.Reader.Serial, Kind: models.KindSale, AmountMinor: 1077, Currency: "EUR", State: models.TxProcessing,
			SentAt: &now, NextCheckAt: &due}
	}
	if err := e.DB.CreateInBatches(rows, 500).Error; err != nil {
		b.Fatal(err)
	}

	// The run: the real poller, through a probe that notes when each payment was due.
	probe := &lagProbe{inner: e.Pay, due: map[uint]time.Time{}}
	p := &jobs.StatusPoller{Checks: probe, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Workers: envInt("POLL_WORKERS", 0)}
	b.ResetTimer()
	rctx, cancel := context.WithTimeout(ctx, time.Duration(seconds)*time.Second)
	p.Run(rctx)
	cancel()
	b.StopTimer()
	lags := probe.lags
	if len(lags) == 0 {
		b.Fatal("no status checks ran")
	}
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	need := float64(orders) / payments.CheckEvery.Seconds()
	b.ReportMetric(float64(lags[len(lags)/2].Milliseconds()), "lag-p50-ms")
	b.ReportMetric(float64(lags[len(lags)*99/100].Milliseconds()), "lag-p99-ms")
	b.ReportMetric(float64(len(lags))/float64(seconds), "checks/s")
	b.ReportMetric(need, "needed-checks/s")
	b.ReportMetric(ceiling, "ceiling-status/s")
}

// lagProbe wraps the payments' StatusChecks and records, for every check, how late it
// started against the payment's stored next_check_at.
type lagProbe struct {
	inner jobs.StatusChecks
	mu    sync.Mutex
	due   map[uint]time.Time
	lags  []time.Duration
}

func (p *lagProbe) DueStatusChecks(ctx context.Context, now time.Time, limit int) ([]models.DueCheck, error) {
	due, err := p.inner.DueStatusChecks(ctx, now, limit)
	p.mu.Lock()
	for _, d := range due {
		p.due[d.ID] = d.Due
	}
	p.mu.Unlock()
	return due, err
}

func (p *lagProbe) CheckStatus(ctx context.Context, d models.DueCheck) error {
	p.mu.Lock()
	if due, ok := p.due[d.ID]; ok {
		p.lags = append(p.lags, time.Since(due))
		delete(p.due, d.ID)
	}
	p.mu.Unlock()
	return p.inner.CheckStatus(ctx, d)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
