package models_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/models/testdb"
)

// BenchmarkTransactionsList measures the transactions page's queries over a large table
// (BENCH_ROWS, default 200000; issue 7 asks for 1000000):
//
//	BENCH_ROWS=1000000 go test -run '^$' -bench TransactionsList -benchtime 200x ./models/
//
// Each sub-benchmark reports p95 in ms next to Go's mean. The start page's figures for one
// business day (dashboard-day, and one cashier's: dashboard-day-staff) run over the same
// table: issue 18 asks for p95 under 30 ms at a million payments.
func BenchmarkTransactionsList(b *testing.B) {
	rows := 200_000
	if v, err := strconv.Atoi(os.Getenv("BENCH_ROWS")); err == nil && v > 0 {
		rows = v
	}
	db := testdb.Open(b)
	states := []models.TxState{models.TxApproved, models.TxApproved, models.TxApproved, models.TxDeclined, models.TxFailed, models.TxCancelled}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := make([]models.Transaction, 0, 1000)
	for i := 0; i < rows; i++ {
		batch = append(batch, models.Transaction{
			CreatedAt: start.Add(time.Duration(i) * 30 * time.Second), ClientOrderID: fmt.Sprintf("P%015d", i), EndpointID: 1,
			ReaderID: uint(1 + i%20), ReaderSerial: fmt.Sprintf("SBX-%04d", 1+i%20), Kind: models.KindSale,
			AmountMinor: int64(100 + i%50000), Currency: "EUR", State: states[i%len(states)], GatewayOrderID: strconv.Itoa(2000000 + i),
			ApprovalCode: fmt.Sprintf("%06d", i%1000000), RRN: fmt.Sprintf("%012d", i), CardLast4: fmt.Sprintf("%04d", i%10000), CardBrand: "VISA",
			BusinessDay: start.Add(time.Duration(i) * 30 * time.Second).Format("2006-01-02"), StartedByID: uint(1 + i%5),
		})
		if i%20 == 0 {
			batch[len(batch)-1].Kind = models.KindRefund
		}
		if len(batch) == cap(batch) || i == rows-1 {
			if err := db.CreateInBatches(batch, 500).Error; err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	s := &models.Transactions{DB: db}
	ctx := context.Background()
	mid := uint(rows / 2)
	cases := []struct {
		name string
		f    models.TxFilter
	}{
		{"first-page", models.TxFilter{Limit: 51}},
		{"deep-page", models.TxFilter{BeforeID: mid, Limit: 51}},
		{"status", models.TxFilter{State: models.TxDeclined, Limit: 51}},
		{"status-deep", models.TxFilter{State: models.TxDeclined, BeforeID: mid, Limit: 51}},
		{"reader-and-dates", models.TxFilter{ReaderID: 7, From: start.AddDate(0, 0, 10), To: start.AddDate(0, 0, 12), Limit: 51}},
		{"amount-range", models.TxFilter{MinMinor: 40000, MaxMinor: 40100, Limit: 51}},
		{"search-order-id", models.TxFilter{Search: fmt.Sprintf("P%015d", rows/3), Limit: 51}},
		{"search-last4", models.TxFilter{Search: "4242", Limit: 51}},
		{"search-rrn", models.TxFilter{Search: fmt.Sprintf("%012d", rows/4), Limit: 51}},
	}
	// The baseline: one row by primary key, the cheapest read this table can answer.
	b.Run("baseline-pk-lookup", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			var tx models.Transaction
			if err := db.WithContext(ctx).First(&tx, 1+uint(i)%uint(rows)).Error; err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
	})
	day := start.Add(time.Duration(rows/2) * 30 * time.Second).Format("2006-01-02")
	for _, staff := range []uint{0, 3} {
		name := "dashboard-day"
		if staff != 0 {
			name += "-staff"
		}
		b.Run(name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				f, err := s.Figures(ctx, models.FigureQuery{Day: day, Zone: time.UTC, Currency: "EUR", StaffID: staff})
				if err != nil || f.Payments == 0 {
					b.Fatalf("figures of %s: %+v, %v", day, f.Takings, err)
				}
				lat = append(lat, time.Since(t0))
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if _, err := s.List(ctx, c.f); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
}
