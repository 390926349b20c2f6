package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/devices/virtual"
	"github.com/example/mposportal/live"
	"github.com/example/mposportal/mapi/sandbox"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/money"
	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
)

var chaosSales = flag.Int("chaos.sales", 120, "sales in TestChaosReconciliation (issue 7's full size is 1000)")

// TestChaosReconciliation takes -chaos.sales sales through the built portal binary on eight
// virtual readers, against a sandbox that drops 30% of callbacks, duplicates 20%, delays and
// reorders the rest (up to 3 s) and answers 10% of sale and status requests with a 502. Half
// way through, the portal is killed with SIGKILL and started again on the same database.
// Afterwards every payment must agree with the gateway's ledger: the same order and final
// status for every order the gateway has, no order the portal does not know, no payment
// booked twice, nothing left unsettled, and no card number or control key in the logs.
//
//	go test -run TestChaosReconciliation -chaos.sales 1000 -timeout 30m .
func TestChaosReconciliation(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the portal binary")
	}
	dir := t.TempDir()
	bin := buildPortal(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The gateway, in this process, so that it outlives the portal.
	chaos := sandbox.Faults{DropCallbackPct: 30, DuplicateCallbackPct: 20, Sync5xxPct: 10, DelayCallbackMax: 3 * time.Second, Seed: 7,
		Money5xxAfterCreate: 3}
	gw, gwURL := startGateway(t, dir, []time.Duration{0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 15 * time.Second}, chaos)

	// The portal's database, set up as an admin would: a user, the endpoint, eight readers.
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o700)
	readerIDs, codes := seedChaosPortal(t, filepath.Join(data, "portal.db"), gwURL, gw)

	addr := freeAddr(t)
	logPath := filepath.Join(dir, "portal.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "-addr", addr, "-data", data, "-sandbox-addr", "off", "-log-json")
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitHealthy(t, "http://"+addr)
		return cmd
	}
	portalURL := "http://" + addr
	cmd := start()
	defer func() {
		if cmd != nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()

	// The readers' companion apps pair and stay connected across the restart.
	var agents []*virtual.Agent
	for i, tr := range gw.TestReaders() {
		a := &virtual.Agent{Reader: virtual.New(tr.Serial, "2.1.0", tr.IPEK(), tr.IKSN), PortalURL: portalURL,
			TapDelay: 20 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if err := a.Pair(ctx, codes[i]); err != nil {
			t.Fatal(err)
		}
		agents = append(agents, a)
		go a.Run(ctx)
	}

	// The counter: one signed-in staff session starting sales on every reader at once.
	counter := newCounterClient(t, portalURL, "staff", nil)
	total := *chaosSales
	// The back office closes the day several times during the run, with the close's request
	// refused, its answer lost, or lost before it reached the gateway.
	ph := newPhone()
	ph.add("admin", chaosTOTP, 0)
	office := newCounterClient(t, portalURL, "admin", ph)
	closeFaults := []func(*sandbox.Faults){
		func(f *sandbox.Faults) { f.RefuseCloseDay = 1 },
		func(f *sandbox.Faults) { f.CloseDay5xxAfter = 1 },
		func(f *sandbox.Faults) {},
		func(f *sandbox.Faults) { f.CloseDayDropBefore = 1 },
		func(f *sandbox.Faults) {},
	}
	closeAt := func(k int) int64 { return int64(total * (k + 1) / (len(closeFaults) + 1)) }
	closesDone := make(chan struct{})
	var started, attempts atomic.Int64
	killed := make(chan struct{})
	var kill sync.Once
	var wg sync.WaitGroup
	cards := []string{"visa", "visa", "visa", "mastercard", "visa-expired", "amex"}
	for i, id := range readerIDs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for started.Load() < int64(total) {
				card, _ := virtual.CardByID(cards[rand.IntN(len(cards))])
				agents[i].PresentNext(card, virtual.Chip)
				cents := rand.Int64N(9900) + 100
				if c := cents % 100; c == 77 || c == 78 { // those amounts linger at the sandbox (§10)
					cents += 2
				}
				attempts.Add(1)
				kind := models.KindSale
				if rand.IntN(4) == 0 {
					kind = models.KindPreauth
				}
				if counter.startPayment(kind, id, cents) {
					if n := started.Add(1); n == int64(total/2) {
						kill.Do(func() { close(killed) })
					}
				}
				time.Sleep(30 * time.Millisecond)
			}
		}()
	}
	go func() {
		defer close(closesDone)
		for k, fault := range closeFaults {
			for started.Load() < closeAt(k) {
				time.Sleep(50 * time.Millisecond)
			}
			f := chaos
			fault(&f)
			gw.SetFaults(f)
			for !office.closeDay(1) && ctx.Err() == nil { // the portal may be restarting
				time.Sleep(500 * time.Millisecond)
			}
		}
	}()
	// The back office also captures, releases and refunds approved payments as they come in,
	// sometimes tapping a form twice, under the same faults (and lost answers to captures and
	// returns). The test reads the portal's database to find candidates, as a manager would
	// read the transactions page.
	live, err := models.Open(filepath.Join(data, "portal.db"), time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer models.Close(live)
	wantOps := total / 4
	var opsTaken atomic.Int64
	moneyDone := make(chan struct{})
	go func() {
		defer close(moneyDone)
		var salesDone time.Time
		for n := 0; opsTaken.Load() < int64(wantOps) && ctx.Err() == nil; n++ {
			// Operations go on for a minute after the last sale: on a busy machine the closes
			// keep the counter (and its operations) shut for much of the sales.
			if started.Load() >= int64(total) {
				if salesDone.IsZero() {
					salesDone = time.Now()
				}
				if time.Since(salesDone) > time.Minute {
					return // the payments ran out before enough operations did
				}
			}
			id, kind, cents, ok := pickOperation(live)
			if !ok {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			key := fmt.Sprintf("chaos-op-%d", n)
			if office.operate(id, kind, cents, key) {
				opsTaken.Add(1)
				if n%5 == 0 {
					office.operate(id, kind, cents, key) // a double tap: the same operation
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	<-killed
	cmd.Process.Kill() // SIGKILL: no shutdown, no flush, in-flight requests lost
	cmd.Wait()
	t.Logf("killed the portal after %d sales started", started.Load())
	cmd = start()
	wg.Wait()
	<-closesDone
	<-moneyDone
	t.Logf("%d payments started (%d attempts, the rest refused while the portal was down or closing the day); %d captures, releases and refunds taken",
		started.Load(), attempts.Load(), opsTaken.Load())

	// Let everything settle: the poller and the watchdogs finish what callbacks do not. Then
	// one last close, with no fault, takes what the others left.
	db, err := models.Open(filepath.Join(data, "portal.db"), time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer models.Close(db)
	waitSettled(t, db, 6*time.Minute)
	gw.SetFaults(chaos)
	waitClosesSettled(t, db, 3*time.Minute)
	for !office.closeDay(1) {
		time.Sleep(time.Second)
	}
	waitClosesSettled(t, db, 3*time.Minute)
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	cmd = nil

	ledger := reconcile(t, db, gw)
	reconcileOperations(t, db, gw, wantOps)
	reconcileCloses(t, db, gw)
	if len(ledger) < total/2 {
		t.Errorf("only %d of %d sales reached the gateway: the run did not exercise much", len(ledger), total)
	}

	// Logs: no card number, no control key.
	logs, _ := os.ReadFile(logPath)
	for _, c := range []string{"visa", "mastercard", "visa-expired", "amex"} {
		card, _ := virtual.CardByID(c)
		if strings.Contains(string(logs), card.PAN) {
			t.Errorf("the portal log holds the card number of %s", c)
		}
	}
	if strings.Contains(string(logs), gw.Merchant().ControlKey) {
		t.Error("the portal log holds the control key")
	}
}

// buildPortal builds the portal binary into dir.
func buildPortal(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "portal")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startGateway runs a sandbox gateway in the test process (so that it outlives the portals
// under test) with the given callback retry schedule and faults, until the test ends.
func startGateway(t *testing.T, dir string, schedule []time.Duration, faults sandbox.Faults) (*sandbox.Gateway, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	gw, err := sandbox.Open(sandbox.Config{Path: filepath.Join(dir, "sandbox.db"), PublicURL: "http://" + srv.Listener.Addr().String(),
		ProcessingDelay: 300 * time.Millisecond, AnyCallbackPort: true, CallbackSchedule: schedule})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = gw.Handler()
	srv.Start()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { gw.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close(); gw.Close() })
	gw.SetFaults(faults)
	return gw, srv.URL
}

// waitSettled waits until every payment is final, and fails the test (naming a few that are
// not) after within.
func waitSettled(t *testing.T, db *gorm.DB, within time.Duration) {
	t.Helper()
	var final []models.TxState
	for _, s := range models.AllTxStates {
		if s.Final() {
			final = append(final, s)
		}
	}
	deadline := time.Now().Add(within)
	for {
		var open []models.Transaction
		db.Where("state NOT IN ?", final).Limit(10).Find(&open)
		if len(open) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, s := range open {
				t.Logf("unsettled: %s %s next check %v", s.ClientOrderID, s.State, s.NextCheckAt)
			}
			t.Fatalf("payments still not final after %s", within)
		}
		time.Sleep(time.Second)
	}
}

// reconcile compares the portal's payments with the gateway's ledger: the same order and final
// status for every order the gateway has, no order the portal does not know, nothing booked
// twice, the same approved total. It returns the ledger.
func reconcile(t *testing.T, db *gorm.DB, gw *sandbox.Gateway) []sandbox.LedgerOrder {
	t.Helper()
	ledger, err := gw.Ledger()
	if err != nil {
		t.Fatal(err)
	}
	var txs []models.Transaction
	if err := db.Find(&txs).Error; err != nil {
		t.Fatal(err)
	}
	byClient := map[string]sandbox.LedgerOrder{}
	for _, o := range ledger {
		if _, dup := byClient[o.ClientOrderID]; dup {
			t.Errorf("the gateway booked %s twice", o.ClientOrderID)
		}
		byClient[o.ClientOrderID] = o
	}
	seen := map[string]bool{}
	var approvedPortal, approvedGateway int64
	counts := map[models.TxState]int{}
	for _, tx := range txs {
		if tx.ParentID != nil {
			continue // captures, releases and refunds: reconcileOperations
		}
		counts[tx.State]++
		if seen[tx.ClientOrderID] {
			t.Errorf("the portal has %s twice", tx.ClientOrderID)
		}
		seen[tx.ClientOrderID] = true
		o, atGateway := byClient[tx.ClientOrderID]
		switch {
		case atGateway && (models.StateFromGateway(o.Status) != tx.State || fmt.Sprint(o.OrderID) != tx.GatewayOrderID || o.AmountMinor != tx.AmountMinor):
			t.Errorf("%s: portal says %s, order %q, %d; the gateway %s, order %d, %d",
				tx.ClientOrderID, tx.State, tx.GatewayOrderID, tx.AmountMinor, o.Status, o.OrderID, o.AmountMinor)
		case !atGateway && tx.State != models.TxFailed && tx.State != models.TxCancelled:
			t.Errorf("%s: portal says %s, but the gateway never had the order", tx.ClientOrderID, tx.State)
		}
		if tx.State == models.TxApproved {
			approvedPortal += tx.AmountMinor
		}
	}
	for _, o := range ledger {
		if !seen[o.ClientOrderID] {
			t.Errorf("the gateway has order %d (%s, %s) that the portal does not know", o.OrderID, o.ClientOrderID, o.Status)
		}
		if o.Status == "approved" {
			approvedGateway += o.AmountMinor
		}
	}
	if approvedPortal != approvedGateway {
		t.Errorf("approved total: portal %d, gateway %d", approvedPortal, approvedGateway)
	}
	// A payment's timeline reaches its final state once, whatever arrived twice.
	var twice int64
	db.Raw(`SELECT COUNT(*) FROM (SELECT transaction_id FROM tx_events WHERE to_state IN ('approved','declined')
		GROUP BY transaction_id HAVING COUNT(*) > 1) AS t`).Scan(&twice)
	if twice > 0 {
		t.Errorf("%d payments reached their final state more than once", twice)
	}
	t.Logf("portal: %d payments %v; gateway: %d orders; approved total %d", len(txs), counts, len(ledger), approvedGateway)
	return ledger
}

// seedChaosPortal prepares the portal database as an admin would through the pages: a staff
// user, the gateway endpoint and the sandbox's test readers, each with a pairing code.
func seedChaosPortal(t *testing.T, dsn, gatewayURL string, gw *sandbox.Gateway) ([]uint, []string) {
	t.Helper()
	models.PasswordCost = bcrypt.MinCost
	db, err := models.Open(dsn, time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer models.Close(db)
	if err := models.Migrate(db); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h, _ := models.HashPassword(chaosPassword)
	if err := (&models.Users{DB: db}).Create(ctx, &models.User{Username: "staff", Name: "Staff", Role: models.RoleStaff, PasswordHash: h}); err != nil {
		t.Fatal(err)
	}
	admin := models.User{Username: "admin", Name: "Admin", Role: models.RoleAdmin, PasswordHash: h}
	if err := (&models.Users{DB: db}).Create(ctx, &admin); err != nil {
		t.Fatal(err)
	}
	if _, err := (&models.SecondFactors{DB: db}).Enrol(ctx, admin.ID, chaosTOTP, 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	m := gw.Merchant()
	if err := (&models.Endpoints{DB: db}).Create(ctx, &models.Endpoint{Name: "Sandbox", EndpointID: m.EndpointID, Login: m.Login,
		ControlKey: m.ControlKey, Currency: m.Currency, BaseURL: gatewayURL, Enabled: true, Address1: "1 Main St", City: "Riga",
		ZipCode: "LV-1010", Country: "LV", Email: "shop@example.com"}); err != nil {
		t.Fatal(err)
	}
	readers := devices.NewReaders(devices.ReadersDeps{Store: &models.Readers{DB: db}, Link: devices.NewLink(), Live: live.Nowhere,
		Audit: &models.Audit{DB: db}, Log: slog.New(slog.DiscardHandler), Waiting: devices.NothingWaits, Now: time.Now})
	var ids []uint
	var codes []string
	for i, tr := range gw.TestReaders() {
		r, code, err := readers.Register(ctx, devices.RegisterInput{Serial: tr.Serial, Label: fmt.Sprintf("Counter %d", i+1), EndpointID: 1})
		if err != nil {
			t.Fatal(err)
		}
		ids, codes = append(ids, r.ID), append(codes, code)
	}
	return ids, codes
}

const (
	chaosPassword = "chaos-monkey-at-the-counter"
	chaosTOTP     = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" // the admin's authenticator secret
)

// counterClient is the counter's browser: a session, its CSRF token, and sales started with
// the same form the counter page posts.
type counterClient struct {
	t     *testing.T
	phone *phone // for a user who signs in with a code
	base  string
	user  string
	c     *http.Client
	mu    sync.Mutex
	csrf  string
}

var reCSRFToken = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// newCounterClient signs username in; ph is their authenticator, nil for staff without one.
func newCounterClient(t *testing.T, base, username string, ph *phone) *counterClient {
	jar, _ := cookiejar.New(nil)
	cc := &counterClient{t: t, phone: ph, base: base, user: username, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if !cc.signIn() {
		t.Fatal("cannot sign in")
	}
	return cc
}

func (cc *counterClient) signIn() bool {
	cc.refreshToken("/login")
	resp, err := cc.post("/login", url.Values{"username": {cc.user}, "password": {chaosPassword}})
	if err != nil {
		return false
	}
	if resp.Header.Get("Location") == "/login/code" {
		if cc.phone == nil || !cc.phone.has(cc.user) {
			cc.t.Fatalf("%s is asked for a code the test does not have", cc.user)
		}
		cc.refreshToken("/login/code")
		if resp, err = cc.post("/login/code", url.Values{"code": {cc.phone.code(cc.t, cc.user)}}); err != nil {
			return false
		}
	}
	cc.refreshToken("/counter")
	return resp.StatusCode == http.StatusSeeOther
}

func (cc *counterClient) refreshToken(path string) {
	resp, err := cc.c.Get(cc.base + path)
	if err != nil {
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if m := reCSRFToken.FindSubmatch(body); m != nil {
		cc.mu.Lock()
		cc.csrf = string(m[1])
		cc.mu.Unlock()
	}
}

func (cc *counterClient) post(path string, form url.Values) (*http.Response, error) {
	cc.mu.Lock()
	form.Set("csrf_token", cc.csrf)
	cc.mu.Unlock()
	req, _ := http.NewRequest(http.MethodPost, cc.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", cc.base)
	resp, err := cc.c.Do(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

// startSale posts the counter form; it reports whether a payment was started. A refusal
// (reader offline while the portal restarts) or a connection error is not a sale.
func (cc *counterClient) startSale(readerID uint, cents int64) bool {
	return cc.startPayment(models.KindSale, readerID, cents)
}

// startPayment is startSale for a sale or a preauth.
func (cc *counterClient) startPayment(kind models.TxKind, readerID uint, cents int64) bool {
	resp, err := cc.post("/counter", url.Values{"kind": {string(kind)}, "reader_id": {fmt.Sprint(readerID)},
		"amount": {money.Plain(cents, "EUR")}, "description": {"chaos"}})
	if err != nil {
		time.Sleep(200 * time.Millisecond)
		return false
	}
	switch resp.StatusCode {
	case http.StatusSeeOther:
		return strings.HasPrefix(resp.Header.Get("Location"), "/transactions/")
	case http.StatusForbidden, http.StatusUnauthorized:
		cc.refreshToken("/counter") // the CSRF cookie is per browser; refresh after a restart
	}
	time.Sleep(100 * time.Millisecond)
	return false
}

// operate posts a payment page's capture, release or refund form, with key as its one-time
// key; it reports whether the portal took it (or had taken it already: the same key again).
func (cc *counterClient) operate(id uint, kind models.TxKind, cents int64, key string) bool {
	resp, err := cc.post(fmt.Sprintf("/transactions/%d/operations", id), url.Values{"kind": {string(kind)},
		"amount": {money.Plain(cents, "EUR")}, "reason": {"chaos " + string(kind)}, "op_key": {key}})
	if err != nil {
		return false
	}
	if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized {
		cc.signIn()
		return false
	}
	return resp.StatusCode == http.StatusSeeOther
}

// closeDay posts the Close Day button for an endpoint; it reports whether a close started (or
// one was already running).
func (cc *counterClient) closeDay(endpointID uint) bool {
	resp, err := cc.post(fmt.Sprintf("/admin/closeday/%d", endpointID), url.Values{"confirm": {"yes"}})
	if err != nil {
		return false
	}
	if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized {
		cc.signIn()
		return false
	}
	return resp.StatusCode == http.StatusSeeOther && strings.HasPrefix(resp.Header.Get("Location"), "/admin/closeday/c/")
}

// waitClosesSettled waits until no close is running or unanswered and every difference with
// the gateway is explained (or given up on).
func waitClosesSettled(t *testing.T, db *gorm.DB, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var open []models.CloseDay
		db.Where("state IN ? OR (mismatch = ? AND explained = ? AND next_check_at IS NOT NULL)",
			[]models.CloseState{models.ClosePending, models.CloseSending, models.CloseUnknown}, true, false).Find(&open)
		if len(open) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, c := range open {
				t.Logf("close %d: %s mismatch %v explained %v: %s", c.ID, c.State, c.Mismatch, c.Explained, c.Error)
			}
			t.Fatalf("closes not settled after %s", within)
		}
		time.Sleep(time.Second)
	}
}

// reconcileCloses checks the books: every approved sale is in exactly one finished close, the
// same one the gateway put it in; every close agrees with the gateway (code39 00) or its
// difference is exactly the adjustments it lists; the last close agrees.
func reconcileCloses(t *testing.T, db *gorm.DB, gw *sandbox.Gateway) {
	t.Helper()
	var closes []models.CloseDay
	db.Order("id").Find(&closes)
	byID := map[uint]models.CloseDay{}
	finished := 0
	var last *models.CloseDay
	for i, c := range closes {
		byID[c.ID] = c
		if c.State == models.CloseFailed {
			var n int64
			db.Model(&models.Transaction{}).Where("close_day_id = ?", c.ID).Count(&n)
			if n > 0 {
				t.Errorf("failed close %d still holds %d payments", c.ID, n)
			}
			continue
		}
		finished++
		last = &closes[i]
		if c.Code39 == "00" && !c.Mismatch {
			continue
		}
		var adj []models.CloseAdjustment
		db.Where("close_day_id = ?", c.ID).Find(&adj)
		var n, rn int // sales and captures; refunds and releases
		var net, rnet int64
		for _, a := range adj {
			var tx models.Transaction
			db.First(&tx, a.TransactionID)
			d := 1
			if a.Kind != models.AdjustAdded {
				d = -1
			}
			if tx.Kind.Wire() == "reversal" {
				rn, rnet = rn+d, rnet+int64(d)*a.AmountMinor
			} else {
				n, net = n+d, net+int64(d)*a.AmountMinor
			}
		}
		if !c.Explained || n != c.GwSaleCount-c.SaleCount || net != c.GwSaleSumMinor-c.SaleSumMinor ||
			rn != c.GwReversalCount-c.ReversalCount || rnet != c.GwReversalMinor-c.ReversalMinor {
			t.Errorf("close %d (code39 %s): ours %d/%d and %d/%d reversals, gateway %d/%d and %d/%d, explained %v by %d adjustments net %d/%d and %d/%d",
				c.ID, c.Code39, c.SaleCount, c.SaleSumMinor, c.ReversalCount, c.ReversalMinor, c.GwSaleCount, c.GwSaleSumMinor,
				c.GwReversalCount, c.GwReversalMinor, c.Explained, len(adj), n, net, rn, rnet)
		}
	}
	if finished < 3 || len(closes) < 6 {
		t.Errorf("%d closes, %d finished: the run did not close the day enough", len(closes), finished)
	}
	if last == nil || last.Code39 != "00" || last.Mismatch {
		t.Errorf("the last close does not agree with the gateway: %+v", last)
	}
	var approved []models.Transaction
	db.Where("kind = ? AND state = ?", models.KindSale, models.TxApproved).Find(&approved)
	for _, tx := range approved {
		if tx.CloseDayID == nil {
			t.Errorf("approved sale %s is in no close", tx.ClientOrderID)
			continue
		}
		c := byID[*tx.CloseDayID]
		if c.State != models.CloseFinished && c.State != models.CloseLocked {
			t.Errorf("approved sale %s is in close %d, which is %s", tx.ClientOrderID, c.ID, c.State)
		}
		o, ok := gw.Order(tx.ClientOrderID)
		if !ok || o.CloseID == nil || fmt.Sprintf("%06d", *o.CloseID) != c.RRN {
			t.Errorf("approved sale %s: our close %d (RRN %s), the gateway's %v", tx.ClientOrderID, c.ID, c.RRN, o.CloseID)
		}
	}
	t.Logf("%d closes (%d finished); %d approved sales each in the close the gateway put it in", len(closes), finished, len(approved))
}

func waitHealthy(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s not healthy after 30s", base)
}

// pickOperation chooses a capture, release or refund a manager could ask for now: an approved
// payment with no operation in progress, and an amount its balance allows.
func pickOperation(db *gorm.DB) (id uint, kind models.TxKind, cents int64, ok bool) {
	var ts []models.Transaction
	db.Where("parent_id IS NULL AND state = ? AND NOT EXISTS (SELECT 1 FROM transactions op WHERE op.parent_id = transactions.id AND op.state NOT IN ?)",
		models.TxApproved, []models.TxState{models.TxApproved, models.TxDeclined, models.TxFiltered, models.TxError, models.TxCancelled, models.TxFailed}).
		Order("RANDOM()").Limit(1).Find(&ts)
	if len(ts) == 0 {
		return 0, "", 0, false
	}
	t := ts[0]
	var ops []models.Transaction
	db.Where("parent_id = ?", t.ID).Order("id").Find(&ops)
	b := models.BalanceOf(t, ops)
	switch {
	case b.Capturable > 0 && rand.IntN(3) == 0:
		return t.ID, models.KindRelease, t.AmountMinor, true
	case b.Capturable > 0:
		return t.ID, models.KindCapture, 1 + rand.Int64N(b.Capturable), true
	case b.Refundable > 0:
		return t.ID, models.KindRefund, 1 + rand.Int64N(b.Refundable), true
	}
	return 0, "", 0, false
}

// reconcileOperations compares the portal's captures, releases and refunds with the gateway's:
// every operation the gateway has is one of ours with the same kind, amount and final status;
// every one we sent is at the gateway; none was made twice; the approved sums agree.
func reconcileOperations(t *testing.T, db *gorm.DB, gw *sandbox.Gateway, want int) {
	t.Helper()
	ledger, err := gw.LedgerOperations()
	if err != nil {
		t.Fatal(err)
	}
	var ops []models.Transaction
	db.Where("parent_id IS NOT NULL").Find(&ops)
	bySerial := map[string]models.Transaction{}
	counts := map[models.TxState]int{}
	for _, op := range ops {
		counts[op.State]++
		if op.RequestSerial == "" {
			if op.State != models.TxFailed && op.State != models.TxCancelled {
				t.Errorf("%s is %s without a gateway request", op.ClientOrderID, op.State)
			}
			continue
		}
		if _, dup := bySerial[op.RequestSerial]; dup {
			t.Errorf("two operations hold request %s", op.RequestSerial)
		}
		bySerial[op.RequestSerial] = op
	}
	var portalSum, gatewaySum int64
	seen := map[string]bool{}
	for _, l := range ledger {
		op, ok := bySerial[l.SerialNumber]
		switch {
		case !ok:
			t.Errorf("the gateway has a %s of %d on %s (request %s, %s) that the portal does not know", l.Kind, l.AmountMinor, l.ClientOrderID, l.SerialNumber, l.Status)
			continue
		case op.Kind.Wire() != l.Kind || op.AmountMinor != l.AmountMinor || op.ParentOrderID != l.ClientOrderID ||
			models.StateFromGateway(l.Status) != op.State:
			t.Errorf("%s: portal %s %d %s on %s; gateway %s %d %s on %s", op.ClientOrderID, op.Kind, op.AmountMinor, op.State, op.ParentOrderID,
				l.Kind, l.AmountMinor, l.Status, l.ClientOrderID)
		}
		seen[l.SerialNumber] = true
		if l.Status == "approved" {
			gatewaySum += l.AmountMinor
		}
	}
	for serial, op := range bySerial {
		if !seen[serial] {
			t.Errorf("%s (%s) is not at the gateway", op.ClientOrderID, op.State)
		}
		if op.State == models.TxApproved {
			portalSum += op.AmountMinor
		}
	}
	if portalSum != gatewaySum {
		t.Errorf("approved operations: portal %d, gateway %d", portalSum, gatewaySum)
	}
	if len(ledger) < want/2 {
		t.Errorf("only %d operations reached the gateway (wanted about %d): the run did not exercise much", len(ledger), want)
	}
	t.Logf("operations: portal %d %v; gateway %d; approved %d", len(ops), counts, len(ledger), gatewaySum)
}
