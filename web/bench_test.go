package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/models"
)

// Callback ingestion: verify control, apply durably, fan out, answer 200 — over real HTTP on
// loopback with concurrent clients. Compare with the two ceilings measured in the same run:
// BenchmarkCeilingBareHTTP (a 200 handler) and BenchmarkCeilingSQLiteCommit (single-row
// WAL commits). Run: go test -run '^$' -bench 'Callback|Ceiling' -benchtime 5000x ./web/

const benchClients = 32

// load sends n GETs from benchClients goroutines and reports requests/s and p99.
func load(b *testing.B, n int, url func(i int) string) {
	b.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients}}
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				resp, err := client.Get(url(i))
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d requests failed", f, n)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(n)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(lat[n*99/100].Microseconds())/1000, "p99-ms")
}

func BenchmarkCallbackIngestion(b *testing.B) {
	a := newApp(b, true)
	// b.N payments waiting for their final status, as after b.N sale responses.
	rows := make([]models.Transaction, b.N)
	for i := range rows {
		rows[i] = models.Transaction{ClientOrderID: fmt.Sprintf("PB%08d", i), EndpointID: 1, ReaderID: 1, ReaderSerial: "SBX-0001",
			Kind: models.KindSale, AmountMinor: 1042, Currency: "EUR", State: models.TxProcessing, GatewayOrderID: fmt.Sprint(3000000 + i)}
	}
	if err := a.db.CreateInBatches(rows, 500).Error; err != nil {
		b.Fatal(err)
	}
	urls := make([]string, b.N)
	for i, r := range rows {
		cb := mapi.Callback{Status: "approved", OrderID: r.GatewayOrderID, MerchantOrder: r.ClientOrderID, Type: "sale", Amount: 1042}
		urls[i] = a.srv.URL + "/callbacks/mapi/1?" + cb.Query(testKey).Encode()
	}
	load(b, b.N, func(i int) string { return urls[i] })
	var n int64
	a.db.Model(&models.Transaction{}).Where("state = ?", models.TxApproved).Count(&n)
	if int(n) != b.N {
		b.Fatalf("%d of %d payments approved", n, b.N)
	}
}

func BenchmarkCeilingBareHTTP(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer srv.Close()
	load(b, b.N, func(int) string { return srv.URL + "/callbacks/mapi/1?status=approved" })
}

func BenchmarkCeilingSQLiteCommit(b *testing.B) {
	db, err := models.Open(filepath.Join(b.TempDir(), "c.db"), time.Now, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := db.AutoMigrate(&models.CallbackDelivery{}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := db.Create(&models.CallbackDelivery{At: time.Now(), Outcome: "applied", ClientOrderID: fmt.Sprint(i)}).Error; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "commits/s")
}
