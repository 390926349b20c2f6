package web_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/example/mposportal/live"
	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/models"
	"github.com/gorilla/websocket"
	"gorm.io/gorm"
)

// Callback ingestion: verify control, apply durably, fan out, answer 200 — over real HTTP on
// loopback with concurrent clients. Compare with the two ceilings measured in the same run:
// BenchmarkCeilingBareHTTP (a 200 handler) and BenchmarkCeilingSQLiteCommit (single-row
// WAL commits). BenchmarkCallbackDuplicate measures the gateway's retries of callbacks
// already applied. Run: go test -run '^$' -bench 'Callback|Ceiling' -benchtime 5000x ./web/
// With TEST_DATABASE_URL the portal runs on PostgreSQL, and BenchmarkCallbackIngestion reports
// its share of PostgreSQL's insert ceiling too (bench_pg_test.go).

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
	start, cpu0 := time.Now(), cpuTime()
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
					// Read to the end, as the gateway does, so the connection is kept for the
					// next request (an unread body costs a new TCP connection every time).
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d requests failed", f, n)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(n)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(lat[n*99/100].Microseconds())/1000, "p99-ms")
	// CPU per request, the server's and the clients' (this process's user and system time):
	// steadier than req/s when other work shares the machine.
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-us/req")
}

// awaitingCallbacks stores b.N sales of 10.42 EUR on reader 1 waiting for their final status,
// as after b.N sale responses: order ids prefix and a number, gateway order ids from gwBase.
func awaitingCallbacks(b *testing.B, db *gorm.DB, prefix string, gwBase int) []models.Transaction {
	b.Helper()
	rows := make([]models.Transaction, b.N)
	for i := range rows {
		rows[i] = models.Transaction{ClientOrderID: fmt.Sprintf("%s%08d", prefix, i), EndpointID: 1, ReaderID: 1, ReaderSerial: "SBX-0001",
			Kind: models.KindSale, AmountMinor: 1042, Currency: "EUR", State: models.TxProcessing, GatewayOrderID: fmt.Sprint(gwBase + i)}
	}
	if err := db.CreateInBatches(rows, 500).Error; err != nil {
		b.Fatal(err)
	}
	return rows
}

// approvedCallback is the gateway's signed "approved" callback for sale t, at the portal base.
func approvedCallback(base string, t models.Transaction) string {
	cb := mapi.Callback{Status: "approved", OrderID: t.GatewayOrderID, MerchantOrder: t.ClientOrderID, Type: "sale", Amount: "10.42"}
	return base + "/callbacks/mapi/1?" + cb.Query(testKey).Encode()
}

func BenchmarkCallbackIngestion(b *testing.B) {
	onPG := onPostgres(b) // with TEST_DATABASE_URL: also the ratio to PostgreSQL's insert ceiling
	a := newApp(b, true)
	rows := awaitingCallbacks(b, a.db, "PB", 3000000)
	urls := make([]string, b.N)
	for i, r := range rows {
		urls[i] = approvedCallback(a.url, r)
	}
	pg := readPgCPU()
	load(b, b.N, func(i int) string { return urls[i] })
	var n int64
	a.db.Model(&models.Transaction{}).Where("state = ?", models.TxApproved).Count(&n)
	if int(n) != b.N {
		b.Fatalf("%d of %d payments approved", n, b.N)
	}
	if onPG {
		reportPgCPU(b, a.db, pg, "pg-cpu-us/req")
		reportCeiling(b)
	}
}

// A gateway retry: each callback was delivered and applied before the clock starts, and is
// delivered again. It is answered from one read, with the delivery logged and nothing else
// written, so it costs less than a first delivery (compare cpu-us/req and req/s with
// BenchmarkCallbackIngestion in the same run).
func BenchmarkCallbackDuplicate(b *testing.B) {
	a := newApp(b, true)
	rows := awaitingCallbacks(b, a.db, "PD", 5000000)
	urls := make([]string, b.N)
	for i, r := range rows {
		urls[i] = approvedCallback(a.url, r)
	}
	// The first deliveries, untimed.
	var next atomic.Int64
	var wg sync.WaitGroup
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < b.N; i = int(next.Add(1)) - 1 {
				resp, err := http.Get(urls[i])
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Errorf("first delivery %d: %v %v", i, resp, err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	load(b, b.N, func(i int) string { return urls[i] })
	var lines, dups int64
	a.db.Model(&models.TxEvent{}).Where("source = ?", "callback").Count(&lines)
	a.db.Model(&models.CallbackDelivery{}).Where("outcome = ?", "duplicate").Count(&dups)
	if int(lines) != b.N || int(dups) != b.N {
		b.Fatalf("%d timeline lines from callbacks and %d duplicates logged, want %d of each", lines, dups, b.N)
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

// Live push: from a gateway callback to the changed row arriving at each of benchScreens
// signed-in websocket screens, next to the ceiling of the hub alone (a broadcast of a
// fragment of the same size to the same screens, no database and no rendering).
// Run: go test -run '^$' -bench 'LivePush|CeilingHub' -benchtime 50x ./web/

const benchScreens = 1000

// screens connects n signed-in websocket screens; each reports (marker, arrival) for every
// message that starts with prefix and matches re to got. (The prefix test keeps the 1,000
// screens' own CPU, which shares the machine with the server, small.)
func screens(b *testing.B, a *app, n int, prefix string, re *regexp.Regexp, got chan<- arrival) {
	b.Helper()
	admin := a.browser().login("admin", adminPW)
	u, _ := url.Parse(a.url)
	h := http.Header{"Cookie": {cookieHeader(admin, u)}, "Origin": {a.url}}
	var conns []*websocket.Conn
	for range n {
		// Each screen is a transactions list, as the page subscribes.
		c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(a.url, "http")+"/ws?topics=tx-rows,tx-new", h)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		go func() {
			for {
				_, msg, err := c.ReadMessage()
				if err != nil {
					return
				}
				if !bytes.HasPrefix(msg, []byte(prefix)) {
					continue
				}
				if m := re.FindSubmatch(msg); m != nil {
					got <- arrival{string(m[1]), time.Now()}
				}
			}
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); a.server.Hub().Clients() < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d screens joined the hub", a.server.Hub().Clients(), n)
		}
	}
	b.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
}

type arrival struct {
	marker string
	at     time.Time
}

// fanOut runs b.N rounds: send(i) starts round i, and the round ends when all screens
// reported marker(i). It reports the p50/p99 of the per-screen latencies.
func fanOut(b *testing.B, got <-chan arrival, marker func(i int) string, send func(i int)) {
	b.Helper()
	lat := make([]time.Duration, 0, b.N*benchScreens)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		want := marker(i)
		t0 := time.Now()
		send(i)
		timeout := time.After(10 * time.Second)
		for n := 0; n < benchScreens; {
			select {
			case r := <-got:
				if r.marker == want {
					lat = append(lat, r.at.Sub(t0))
					n++
				}
			case <-timeout:
				b.Fatalf("round %d: %d of %d screens got the update", i, n, benchScreens)
			}
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

func BenchmarkLivePush(b *testing.B) {
	a := newApp(b, true)
	rows := awaitingCallbacks(b, a.db, "PL", 4000000)
	got := make(chan arrival, benchScreens*4)
	screens(b, a, benchScreens, "<t", regexp.MustCompile(`data-testid="tx-(PL\d+)" data-state="approved"`), got)
	fanOut(b, got, func(i int) string { return rows[i].ClientOrderID }, func(i int) {
		resp, err := http.Get(approvedCallback(a.url, rows[i]))
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("callback: %v %v", resp, err)
		}
		resp.Body.Close()
	})
}

func BenchmarkCeilingHubBroadcast(b *testing.B) {
	a := newApp(b, true)
	got := make(chan arrival, benchScreens*4)
	screens(b, a, benchScreens, "<tr", regexp.MustCompile(`data-testid="tx-(PC\d+)"`), got)
	pad := strings.Repeat(" ", 1500) // about the size of a payment row fragment
	fanOut(b, got, func(i int) string { return fmt.Sprintf("PC%08d", i) }, func(i int) {
		a.server.Hub().Broadcast(live.PaymentRows, []byte(fmt.Sprintf(`<tr data-testid="tx-PC%08d">%s</tr>`, i, pad)))
	})
}
