package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	portal "github.com/example/mposportal/app"
	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/models/testdb"
	"gorm.io/gorm"
)

// PostgreSQL's ceiling for the callback path: benchClients clients, each committing
// single-row INSERTs of a callback log line into the portal's own callback_deliveries table
// (its indexes included), on the same server, through the same driver, with the server's
// synchronous_commit as the portal runs with it (its default, on: each commit waits for its
// WAL flush). It is what pgbench -c 32 measures with a one-INSERT script. Run:
// TEST_DATABASE_URL=postgres://… go test -run '^$' -bench 'CallbackIngestion|CeilingPostgres' -benchtime 5000x ./web/

func BenchmarkCeilingPostgresInsert(b *testing.B) {
	if !onPostgres(b) {
		b.Skip("TEST_DATABASE_URL not set: no PostgreSQL to measure")
	}
	db, run := pgInsertCeiling(b)
	b.ResetTimer()
	pg, cpu0 := readPgCPU(), cpuTime()
	rate, p99 := run(b.N)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	// The clients' CPU (this process) and the server's, per insert, to set beside a callback's.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/insert")
	reportPgCPU(b, db, pg, "pg-cpu-us/insert")
	b.ReportMetric(rate, "inserts/s")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
}

// pgInsertCeiling prepares a fresh database and returns the measurement: n single-row inserts
// committed by benchClients clients, each on its own connection, giving inserts/s and their
// p99 latency.
func pgInsertCeiling(b *testing.B) (*gorm.DB, func(n int) (float64, time.Duration)) {
	b.Helper()
	db := testdb.Open(b)
	sqlDB, err := db.DB()
	if err != nil {
		b.Fatal(err)
	}
	sqlDB.SetMaxOpenConns(benchClients)
	sqlDB.SetMaxIdleConns(benchClients)
	ins, err := sqlDB.Prepare(`INSERT INTO callback_deliveries (at, endpoint_id, remote_ip, client_order_id, order_id, status, type, amount, outcome, http_status, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`)
	if err != nil {
		b.Fatal(err)
	}
	// Every client's connection is open before the clock starts, as pgbench's are.
	var ready sync.WaitGroup
	for range benchClients {
		ready.Go(func() {
			if err := sqlDB.QueryRow("SELECT pg_sleep(0.01)").Scan(new(any)); err != nil {
				b.Error(err)
			}
		})
	}
	ready.Wait()
	b.Cleanup(func() { ins.Close() })
	return db, func(n int) (float64, time.Duration) {
		lat := make([]time.Duration, n)
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range benchClients {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
					t0 := time.Now()
					_, err := ins.Exec(time.Now().UTC(), 1, "127.0.0.1", fmt.Sprintf("PC%08d", i), fmt.Sprint(6000000+i),
						"approved", "sale", "10.42", "applied", 200, "")
					if err != nil {
						b.Error(err)
						return
					}
					lat[i] = time.Since(t0)
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		if b.Failed() {
			b.FailNow()
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		return float64(n) / elapsed.Seconds(), lat[n*99/100]
	}
}

// Callback ingestion by portal instances sharing one PostgreSQL database, each built as main
// builds one (package app: its own pool and group commit, the screens' changes and relayed
// reader commands carried between instances by NOTIFY). The clients spread genuine signed
// callbacks over the instances in turn. Sub-benchmarks one and two run in the same process:
// two reports its rate as a multiple of one's (x-one-instance); each reports its share of
// the insert ceiling measured right after it. Skipped on SQLite, which has one instance by
// design.
func BenchmarkCallbackIngestionInstances(b *testing.B) {
	if os.Getenv("TEST_DATABASE_URL") == "" {
		b.Skip("TEST_DATABASE_URL not set: several instances need PostgreSQL")
	}
	var oneRate float64 // callbacks/s of one instance, for two's ratio
	for _, n := range []int{1, 2} {
		b.Run(map[int]string{1: "one", 2: "two"}[n], func(b *testing.B) {
			onPostgres(b)
			dsn := testdb.URL(b, filepath.Join(b.TempDir(), "shared.db")) // one schema for all
			var insts []*portal.App
			for range n {
				insts = append(insts, newInstance(b, dsn))
			}
			db := insts[0].DB
			awaitListeners(b, db, n)
			ctx := context.Background()
			if err := insts[0].Endpoints.Create(ctx, &models.Endpoint{Name: "Main", EndpointID: "1234", Login: "merchantlogin",
				ControlKey: testKey, Currency: "EUR", BaseURL: "https://gate.example.com", Enabled: true}); err != nil {
				b.Fatal(err)
			}
			if _, _, err := insts[0].Readers.Register(ctx, devices.RegisterInput{Serial: "SBX-0001", Label: "Counter 1", EndpointID: 1}); err != nil {
				b.Fatal(err)
			}
			rows := awaitingCallbacks(b, db, "PI", 7000000)
			urls := make([]string, b.N)
			for i, r := range rows {
				urls[i] = approvedCallback(insts[i%n].URL, r)
			}
			pg := readPgCPU()
			load(b, b.N, func(i int) string { return urls[i] })
			rate := float64(b.N) / b.Elapsed().Seconds()
			reportPgCPU(b, db, pg, "pg-cpu-us/req")
			var approved int64
			db.Model(&models.Transaction{}).Where("state = ?", models.TxApproved).Count(&approved)
			if int(approved) != b.N {
				b.Fatalf("%d of %d payments approved", approved, b.N)
			}
			if n == 1 {
				oneRate = rate
			} else if oneRate > 0 {
				b.ReportMetric(rate/oneRate, "x-one-instance")
			}
			reportCeiling(b)
		})
	}
}

// newInstance starts a portal on the database dsn, as main would, with no sandbox and no
// scheduled work.
func newInstance(b *testing.B, dsn string) *portal.App {
	b.Helper()
	p, err := portal.New(portal.Config{Addr: "127.0.0.1:0", SandboxAddr: "off", BackupAt: "off", DatabaseURL: dsn},
		portal.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		portal.WithGateways(&fakeGateway{status: map[string]*mapi.StatusResponse{}}), portal.WithoutBackgroundJobs())
	if err != nil {
		b.Fatal(err)
	}
	p.Start()
	b.Cleanup(func() {
		if err := p.Close(); err != nil {
			b.Error(err)
		}
	})
	return p
}

// awaitListeners waits until n of this process's connections listen for notices (each
// instance's listening connection shows its last LISTEN), so that no notice of the run is
// sent before its receivers are there.
func awaitListeners(b *testing.B, db *gorm.DB, n int) {
	b.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var listening int64
		if err := db.Raw("SELECT count(*) FROM pg_stat_activity WHERE application_name = ? AND query LIKE 'LISTEN %'",
			pgAppName()).Scan(&listening).Error; err != nil {
			b.Fatal(err)
		}
		if int(listening) >= n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d instances listen for notices", listening, n)
		}
	}
}

// onPostgres reports whether the benchmark runs on PostgreSQL (TEST_DATABASE_URL), and then
// names the connections it opens from now on (nameConnections).
func onPostgres(b *testing.B) bool {
	if os.Getenv("TEST_DATABASE_URL") == "" {
		return false
	}
	nameConnections(b)
	return true
}

// reportCeiling measures PostgreSQL's insert ceiling right after a callback benchmark's load,
// with as many inserts as it sent callbacks, and reports it with the callbacks' share of it.
func reportCeiling(b *testing.B) {
	b.Helper()
	// load reported req/s; b.Elapsed is the timed part of this run.
	cbs := float64(b.N) / b.Elapsed().Seconds()
	_, run := pgInsertCeiling(b)
	ceiling, _ := run(b.N)
	b.ReportMetric(ceiling, "ceiling-inserts/s")
	b.ReportMetric(100*cbs/ceiling, "%-of-ceiling")
}

// reportPgCPU reports the CPU of the server's backends for this process since before, per
// operation of the run; db is any of the benchmark's databases.
func reportPgCPU(b *testing.B, db *gorm.DB, before pgCPU, unit string) {
	if d, ok := before.since(db); ok {
		b.ReportMetric(float64(d.Microseconds())/float64(b.N), unit)
	}
}
