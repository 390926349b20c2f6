package main

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/example/mposportal/devices/virtual"
	"github.com/example/mposportal/mapi/sandbox"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/models/testdb"
	"github.com/gorilla/websocket"
)

// TestTwoInstancesShareOnePostgreSQL runs two portal processes on one PostgreSQL database
// (TEST_DATABASE_URL; .ci/run starts one), with half the readers connected to each and a
// signed-in screen on each. Sales go through both, half of them started on the instance the
// reader is not connected to (relayed); three quarters in, one is killed with
// SIGKILL. The sandbox drops 40% of callbacks, so the status pollers of both instances do
// real work. Afterwards: the surviving instance's screen saw every payment reach its final
// state (including those taken on the other instance), the killed one's screen saw every
// payment that was final before it died, no order was polled by both instances at once,
// and every payment agrees with the gateway's ledger.
func TestTwoInstancesShareOnePostgreSQL(t *testing.T) {
	if os.Getenv("TEST_DATABASE_URL") == "" {
		t.Skip("TEST_DATABASE_URL is not set (.ci/run starts PostgreSQL and sets it)")
	}
	dir := t.TempDir()
	bin := buildPortal(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gw, gwURL := startGateway(t, dir, []time.Duration{0, time.Second, 3 * time.Second}, sandbox.Faults{DropCallbackPct: 40, Seed: 11})

	dbURL := testdb.URL(t, filepath.Join(dir, "shared"))
	readerIDs, codes := seedChaosPortal(t, dbURL, gwURL, gw)

	type instance struct {
		url string
		cmd *exec.Cmd
	}
	logFile, err := os.Create(filepath.Join(dir, "portals.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	start := func(name string) *instance {
		addr := freeAddr(t)
		cmd := exec.Command(bin, "-addr", addr, "-database-url", dbURL, "-sandbox-addr", "off", "-data", filepath.Join(dir, name), "-log-json")
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitHealthy(t, "http://"+addr)
		return &instance{"http://" + addr, cmd}
	}
	insts := []*instance{start("a"), start("b")}
	defer func() {
		for _, in := range insts {
			in.cmd.Process.Kill()
			in.cmd.Wait()
		}
	}()

	// Readers 1-4 on instance a, 5-8 on instance b; a counter and a screen on each.
	var agents []*virtual.Agent
	home := func(i int) int { return i * len(insts) / len(readerIDs) }
	for i, tr := range gw.TestReaders() {
		a := &virtual.Agent{Reader: virtual.New(tr.Serial, "2.1.0", tr.IPEK(), tr.IKSN), PortalURL: insts[home(i)].url,
			TapDelay: 20 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if err := a.Pair(ctx, codes[i]); err != nil {
			t.Fatal(err)
		}
		agents = append(agents, a)
		go a.Run(ctx)
	}
	counters := make([]*counterClient, len(insts))
	screens := make([]*screen, len(insts))
	for i, in := range insts {
		counters[i] = newCounterClient(t, in.url, "staff", nil)
		screens[i] = openScreen(t, counters[i])
	}

	// About 8 s of sales; b dies three quarters in, after its poller has been at work.
	total, perReader := 160, 160/len(readerIDs)
	var started atomic.Int64
	killed := make(chan struct{})
	var killedAt time.Time
	var once sync.Once
	var wg sync.WaitGroup
	for i, id := range readerIDs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < perReader; {
				if home(i) == 1 {
					select {
					case <-killed:
						return // its instance is gone; its readers with it
					default:
					}
				}
				card, _ := virtual.CardByID([]string{"visa", "visa", "mastercard", "visa-expired"}[rand.IntN(4)])
				agents[i].PresentNext(card, virtual.Chip)
				// Every other sale is started on the other instance than the reader's: the
				// command to the reader is relayed between instances.
				via := home(i)
				select {
				case <-killed:
				default:
					if n%2 == 1 {
						via = 1 - via
					}
				}
				if counters[via].startSale(id, rand.Int64N(5000)+100) {
					n++
					if started.Add(1) == int64(total*3/4) {
						once.Do(func() {
							insts[1].cmd.Process.Kill()
							insts[1].cmd.Wait()
							killedAt = time.Now()
							close(killed)
						})
					}
				}
				time.Sleep(400 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d sales started; instance b killed after %d", started.Load(), total*3/4)

	db, err := models.Open(dbURL, time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer models.Close(db)
	waitSettled(t, db, 4*time.Minute)
	time.Sleep(time.Second) // the last pushes

	// Every browser saw every update it could.
	var txs []models.Transaction
	db.Find(&txs)
	for _, tx := range txs {
		if got := screens[0].state(tx.ClientOrderID); got != string(tx.State) {
			t.Errorf("screen on instance a shows %s as %q, want %s", tx.ClientOrderID, got, tx.State)
		}
		if tx.FinalAt != nil && tx.FinalAt.Before(killedAt.Add(-time.Second)) {
			if got := screens[1].state(tx.ClientOrderID); got != string(tx.State) {
				t.Errorf("screen on instance b shows %s as %q, want %s (final before b died)", tx.ClientOrderID, got, tx.State)
			}
		}
	}

	// No order was polled by both instances at once: two status requests for one order from
	// different instances are never closer than a second (each lease is 30 s, each cadence 5 s).
	byOrder := map[string][]sandbox.StatusRequest{}
	instances := map[string]bool{}
	for _, r := range gw.StatusRequests() {
		byOrder[r.ClientOrderID] = append(byOrder[r.ClientOrderID], r)
		instances[r.UserAgent] = true
	}
	if len(instances) < 2 {
		t.Errorf("status requests came from %d instance(s); the test wants both polling", len(instances))
	}
	for order, rs := range byOrder {
		sort.Slice(rs, func(i, j int) bool { return rs[i].At.Before(rs[j].At) })
		for i := 1; i < len(rs); i++ {
			if rs[i].UserAgent != rs[i-1].UserAgent && rs[i].At.Sub(rs[i-1].At) < time.Second {
				t.Errorf("order %s polled by %s and %s %v apart", order, rs[i-1].UserAgent, rs[i].UserAgent, rs[i].At.Sub(rs[i-1].At))
			}
		}
	}
	reconcile(t, db, gw)
}

// screen is a signed-in browser's live socket, remembering the last state pushed for each
// payment row.
type screen struct {
	mu     sync.Mutex
	states map[string]string
}

var reRowState = regexp.MustCompile(`data-testid="tx-([^"]+)" data-state="([^"]+)"`)

func openScreen(t *testing.T, cc *counterClient) *screen {
	t.Helper()
	u, _ := url.Parse(cc.base)
	var cookies []string
	for _, c := range cc.c.Jar.Cookies(u) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(cc.base, "http")+"/ws",
		http.Header{"Cookie": {strings.Join(cookies, "; ")}, "Origin": {cc.base}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s := &screen{states: map[string]string{}}
	go func() {
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			for _, m := range reRowState.FindAllSubmatch(msg, -1) {
				s.mu.Lock()
				s.states[string(m[1])] = string(m[2])
				s.mu.Unlock()
			}
		}
	}()
	return s
}

func (s *screen) state(order string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.states[order]
}
