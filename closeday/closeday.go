package closeday

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/example/mposportal/live"
	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/models"
)

// Close-day retry and watchdog timing.
const (
	RetryAfter     = 30 * time.Second // an unknown outcome is asked again with the same request id, backing off
	RetryMax       = 30 * time.Minute // the longest pause between two retries
	MaxAttempts    = 8                // then the close is given up and someone alerted
	LockWatchdog   = 5 * time.Minute  // how often a locked gate is re-checked
	requestTimeout = 60 * time.Second
	// DefaultSweepWait bounds how long a close waits for payments in flight on its endpoint
	// (a card being read, a request on its way, an order still processing) before it sends.
	DefaultSweepWait = 30 * time.Second
	// ReconcileFor is how long a difference with the gateway is looked into before it is
	// left to a person.
	ReconcileFor   = 24 * time.Hour
	reconcileEvery = time.Minute
	sweepLimit     = 5000
)

// Gateway is the part of the MAPI client Close Day needs.
type Gateway interface {
	CloseDay(ctx context.Context, r mapi.CloseDayRequest) (*mapi.CloseDayResponse, error)
	Currency() string // the endpoint's: the close's sums are in its minor units
}

// Gateways builds the client for an endpoint.
type Gateways interface {
	CloseGateway(ctx context.Context, endpointID uint) (Gateway, error)
}

// Sweeper asks the gateway for the status of payments and applies the answers
// (payments.Service).
type Sweeper interface {
	Settle(ctx context.Context, ids []uint, why string)
}

// Auditor records what the close did, whoever started it (a person, the schedule).
type Auditor interface {
	Record(ctx context.Context, e models.AuditEvent) error
}

// Service runs Close Day: exactly one close per trigger, whatever happens on the way, and
// books that agree with the gateway's afterwards. A close closes the counter on its endpoint
// (Closing) while it runs or its outcome is unknown, asks the gateway for the status of every
// payment it could miss (the sweep), takes its totals and members in one transaction, and
// keeps them only if the gateway confirms the close. A difference with the gateway is then
// explained payment by payment (Explain).
type Service struct {
	Deps
	// SweepWait overrides DefaultSweepWait.
	SweepWait time.Duration

	wg sync.WaitGroup
}

// Deps is what a Service needs. Every field is required: New refuses to build a Service
// without one.
type Deps struct {
	Store    *models.CloseDays
	Gateways Gateways
	Sweeper  Sweeper // settles the payments a close could miss (payments.Service)
	Audit    Auditor
	Metrics  *Metrics
	Live     live.Notifier
	Log      *slog.Logger
	Now      func() time.Time
}

// New builds the Close Day service. It panics, naming them, when dependencies are missing: a
// wiring mistake shows at start-up, not at the first close.
func New(d Deps) *Service {
	var missing []string
	for name, absent := range map[string]bool{"Store": d.Store == nil, "Gateways": d.Gateways == nil, "Sweeper": d.Sweeper == nil,
		"Audit": d.Audit == nil, "Metrics": d.Metrics == nil, "Live": d.Live == nil, "Log": d.Log == nil, "Now": d.Now == nil} {
		if absent {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		panic("closeday.New: missing " + strings.Join(missing, ", "))
	}
	return &Service{Deps: d}
}

func (s *Service) now() time.Time { return s.Now() }

func (s *Service) publish(id uint) { s.Live.Changed(live.Change{Kind: live.Close, ID: id}) }

func (s *Service) audit(ctx context.Context, c models.CloseDay, action, detail string) {
	actor := c.StartedBy
	if c.Trigger != models.TriggerManual && c.Trigger != "" {
		actor = c.Trigger
	}
	e := models.AuditEvent{ActorName: actor, Action: action, Subject: closeSubject(c), Detail: detail}
	if err := s.Audit.Record(context.WithoutCancel(ctx), e); err != nil {
		s.Log.Error("close day audit", "close", c.ID, "error", err)
	}
}

// closeSubject names a close in the audit log: "close 12 (K3F…)".
func closeSubject(c models.CloseDay) string { return fmt.Sprintf("close %d (%s)", c.ID, c.RequestID) }

// newCloseRequestID is the idempotency key sent as day_close_request_id: letters and digits,
// 8 to 32 characters (§5.1).
func newCloseRequestID(now time.Time) string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[b[i]&31]
	}
	return "CD" + now.UTC().Format("20060102") + string(b)
}

// TriggerInput is one request to close the day.
type TriggerInput struct {
	EndpointID   uint
	Actor        models.Actor // who: a person (with their id and address), or models.ActorSchedule
	Trigger      string       // models.TriggerManual, TriggerSchedule or TriggerCatchUp
	ScheduledDay string       // the business day of a scheduled close (unique per endpoint); "" for manual ones
	DaysFrom     string       // the business days covered, in the store's zone
	DaysTo       string
}

// Trigger starts a close on an endpoint. A second trigger while one runs gets the running
// close back (models.ErrCloseRunning) and sends nothing. The sweep and the request run in the
// background; progress is published.
func (s *Service) Trigger(ctx context.Context, in TriggerInput) (models.CloseDay, error) {
	now := s.now()
	// This instance works on the new close under its lease; a dead process's close is picked
	// up again by a watcher once both have passed.
	watchdog := now.Add(s.leaseFor())
	if in.Trigger == "" {
		in.Trigger = models.TriggerManual
	}
	c := models.CloseDay{EndpointID: in.EndpointID, RequestID: newCloseRequestID(now), StartedBy: in.Actor.Name, Trigger: in.Trigger,
		DaysFrom: in.DaysFrom, DaysTo: in.DaysTo, NextCheckAt: &watchdog, LeaseUntil: &watchdog}
	if in.ScheduledDay != "" {
		c.ScheduledDay = &in.ScheduledDay
	}
	if err := s.Store.Start(ctx, &c); err != nil {
		return c, err
	}
	detail := fmt.Sprintf("%s close started by %s", c.Trigger, in.Actor.Name)
	if c.DaysFrom != "" && c.DaysFrom != c.DaysTo {
		detail += fmt.Sprintf(", covering the business days %s to %s", c.DaysFrom, c.DaysTo)
	} else if c.DaysTo != "" {
		detail += ", business day " + c.DaysTo
	}
	// Who started it: a person with their id and address, or the schedule (or its catch-up).
	by := in.Actor
	if c.Trigger != models.TriggerManual {
		by = models.Actor{Name: c.Trigger}
	}
	start := by.Event("closeday.start", closeSubject(c), detail)
	if err := s.Audit.Record(context.WithoutCancel(ctx), start); err != nil {
		s.Log.Error("close day audit", "close", c.ID, "error", err)
	}
	s.publish(c.ID)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.work(context.WithoutCancel(ctx), c, s.process); err != nil {
			s.logFailure("close day", c.ID, err)
		}
	}()
	return c, nil
}

// leaseFor is how long one piece of work on a close may take: the sweep, the request, a
// margin. Past it, the close is another instance's to take.
func (s *Service) leaseFor() time.Duration { return s.sweepWait() + requestTimeout + time.Minute }

// work runs fn on close c, whose lease this instance holds, and gives the lease back once fn
// has succeeded, so the close is due again at the next check fn set. A failure keeps the
// lease until it runs out: the close is picked up again then (a back-off).
func (s *Service) work(ctx context.Context, c models.CloseDay, fn func(context.Context, *models.CloseDay) error) error {
	if err := fn(ctx, &c); err != nil {
		return err
	}
	return s.Store.Release(ctx, c)
}

// logFailure logs, once, work on a close that did not get through: a warning when another
// instance holds the close now (it carries on), an error otherwise.
func (s *Service) logFailure(msg string, id uint, err error) {
	if errors.Is(err, models.ErrConflict) {
		s.Log.Warn(msg, "close", id, "error", err)
		return
	}
	s.Log.Error(msg, "close", id, "error", err)
}

// Wait waits for closes in flight (shutdown, tests).
func (s *Service) Wait() { s.wg.Wait() }

func (s *Service) sweepWait() time.Duration {
	if s.SweepWait > 0 {
		return s.SweepWait
	}
	return DefaultSweepWait
}

// process takes a close from pending to the gateway's answer: the sweep, the snapshot of our
// totals and members, the request. The caller holds c's lease.
func (s *Service) process(ctx context.Context, c *models.CloseDay) error {
	if c.Settled() {
		return nil
	}
	if c.State == models.ClosePending {
		s.sweep(ctx, *c)
		if err := s.Store.Snapshot(ctx, c); err != nil {
			return err
		}
		s.publish(c.ID)
	}
	return s.send(ctx, c)
}

// sweep makes our books the gateway's truth before totals are taken: earlier differences
// are looked into again, payments still being read or sent are waited for (briefly: the
// counter is closed meanwhile), and every payment that is open at the gateway or became
// final since the last close is asked for.
func (s *Service) sweep(ctx context.Context, c models.CloseDay) {
	if earlier, err := s.Store.Unexplained(ctx, c.EndpointID); err == nil {
		for _, e := range earlier {
			// Under its own lease: a watcher may be looking into it already (then it is
			// left to that one).
			e, ok, err := s.Store.Lease(ctx, e.ID, s.now(), s.now().Add(s.leaseFor()))
			if err != nil || !ok {
				continue
			}
			if err := s.reconcile(ctx, &e); err != nil {
				s.logFailure("close day reconcile", e.ID, err)
			}
			if err := s.Store.Release(ctx, e); err != nil {
				s.logFailure("close day release", e.ID, err)
			}
		}
	}
	deadline := time.Now().Add(s.sweepWait())
	since, err := s.Store.SweepSince(ctx, c.EndpointID, c.ID)
	if err != nil {
		s.Log.Error("close day sweep", "close", c.ID, "error", err)
		return
	}
	for first := true; ; first = false {
		unsent, err := s.Store.Unsent(ctx, c.EndpointID)
		if err != nil {
			s.Log.Error("close day sweep", "close", c.ID, "error", err)
			return
		}
		var ids []uint
		if first {
			ids, err = s.Store.SweepCandidates(ctx, c.EndpointID, since, nil, sweepLimit)
		} else {
			ids, err = s.Store.SweepCandidates(ctx, c.EndpointID, s.now().Add(time.Hour), nil, sweepLimit) // the open ones only
		}
		if err != nil {
			s.Log.Error("close day sweep", "close", c.ID, "error", err)
			return
		}
		s.Sweeper.Settle(ctx, ids, "before close "+c.RequestID)
		if (unsent == 0 && (first || len(ids) == 0)) || !time.Now().Before(deadline) {
			if first {
				// Whatever the first round settled may have left orders open: one more look.
				if open, _ := s.Store.SweepCandidates(ctx, c.EndpointID, s.now().Add(time.Hour), nil, 1); len(open) > 0 && time.Now().Before(deadline) {
					continue
				}
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// send sends (or re-sends, with the same request id) a close and records the answer. The
// caller holds c's lease.
func (s *Service) send(ctx context.Context, c *models.CloseDay) error {
	if c.Settled() {
		return nil
	}
	if c.State == models.ClosePending {
		return s.process(ctx, c)
	}
	gw, err := s.Gateways.CloseGateway(ctx, c.EndpointID)
	if err != nil {
		now := s.now()
		c.Error, c.NextCheckAt, c.FinishedAt = "gateway settings: "+err.Error(), nil, &now
		return s.fail(ctx, c)
	}
	c.Attempts, c.Currency = c.Attempts+1, gw.Currency()
	// The watchdog and the lease cover the request: should this process die, the close is
	// sent again (the same request id) once both have passed. A close this instance can no
	// longer write (another took it) is not sent.
	watchdog := s.now().Add(requestTimeout + time.Minute)
	c.NextCheckAt = &watchdog
	if c.LeaseUntil == nil || c.LeaseUntil.Before(watchdog) {
		c.LeaseUntil = &watchdog
	}
	if err := s.move(ctx, c, models.CloseSending); err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := gw.CloseDay(rctx, mapi.CloseDayRequest{RequestID: c.RequestID, Totals: &mapi.CloseDayTotals{
		SaleCount: c.SaleCount, SaleSum: mapi.Amount(c.SaleSumMinor), ReversalCount: c.ReversalCount, ReversalSum: mapi.Amount(c.ReversalMinor)}})
	now := s.now()
	var verr *mapi.ValidationError
	var gerr *mapi.GatewayError
	switch {
	case err == nil:
		return s.record(ctx, c, resp, now)
	case mapi.IsUnknownOutcome(err) && c.Attempts >= MaxAttempts:
		c.Error, c.NextCheckAt, c.FinishedAt = fmt.Sprintf("no answer from the gateway after %d attempts (%v): check this close in the gateway's back office", c.Attempts, err), nil, &now
		return s.fail(ctx, c)
	case mapi.IsUnknownOutcome(err):
		// The gateway may have closed: ask again with the same request id, which replays the
		// stored result instead of closing twice. The counter stays closed meanwhile.
		next := now.Add(retryDelay(c.Attempts))
		c.Error, c.NextCheckAt = fmt.Sprintf("outcome unknown (attempt %d of %d): %v", c.Attempts, MaxAttempts, err), &next
		return s.move(ctx, c, models.CloseUnknown)
	case errors.As(err, &verr):
		c.Error, c.NextCheckAt, c.FinishedAt = fmt.Sprintf("refused by the bank's gateway (code %s): %s", verr.Code, verr.Message), nil, &now
		return s.fail(ctx, c)
	case errors.As(err, &gerr):
		c.Error, c.NextCheckAt, c.FinishedAt = fmt.Sprintf("gateway error (code %s): %s", gerr.Code, gerr.Message), nil, &now
		return s.fail(ctx, c)
	default:
		c.Error, c.NextCheckAt, c.FinishedAt = err.Error(), nil, &now
		return s.fail(ctx, c)
	}
}

// retryDelay backs off: 30 s, 1 min, 2 min … at most RetryMax.
func retryDelay(attempts int) time.Duration {
	d := RetryAfter
	for i := 1; i < attempts && d < RetryMax; i++ {
		d *= 2
	}
	return min(d, RetryMax)
}

// fail records a failed close and releases its payments, in one transaction.
func (s *Service) fail(ctx context.Context, c *models.CloseDay) error {
	if err := s.Store.Fail(ctx, c); err != nil {
		return err
	}
	s.audit(ctx, *c, "closeday.failed", c.Error+"; its payments go into the next close")
	s.Metrics.closed(closeFailed)
	s.publish(c.ID)
	return nil
}

// record stores the gateway's answer and compares its totals with ours.
func (s *Service) record(ctx context.Context, c *models.CloseDay, r *mapi.CloseDayResponse, now time.Time) error {
	c.GwStatus, c.GateID, c.IsDayClosing, c.GateCloseDate = r.Status, r.GateID, r.IsDayClosing, r.GateCloseDate
	c.GwSaleCount, c.GwSaleSumMinor = r.SaleApprovedCount, int64(r.SaleAmount)
	c.GwReversalCount, c.GwReversalMinor = r.ReversalApprovedCount, int64(r.ReversalAmount)
	c.Code39, c.RRN, c.RequestSerial = r.Code39, r.RRN, r.RequestSerialNumber
	c.Raw = encodeRaw(r)
	c.Mismatch = c.GwSaleCount != c.SaleCount || c.GwSaleSumMinor != c.SaleSumMinor ||
		c.GwReversalCount != c.ReversalCount || c.GwReversalMinor != c.ReversalMinor || (c.Code39 != "" && c.Code39 != "00")
	c.Error, c.FinishedAt = "", &now
	switch {
	case r.Status == "error":
		c.NextCheckAt = nil
		c.Error = "the gateway reported the close as failed"
		return s.fail(ctx, c)
	case r.Status == "processing":
		next := now.Add(retryDelay(c.Attempts))
		c.NextCheckAt, c.FinishedAt = &next, nil
		return s.move(ctx, c, models.CloseUnknown)
	}
	to := models.CloseFinished
	c.NextCheckAt = nil
	if r.IsDayClosing {
		next := now.Add(LockWatchdog)
		to, c.NextCheckAt = models.CloseLocked, &next
	}
	if err := s.move(ctx, c, to); err != nil {
		return err
	}
	detail := fmt.Sprintf("closed: code39 %s, RRN %s; ours %d sales %s, the gateway's %d sales %s", models.Dash(c.Code39), models.Dash(c.RRN),
		c.SaleCount, c.Amount(c.SaleSumMinor), c.GwSaleCount, c.Amount(c.GwSaleSumMinor))
	if !c.Mismatch {
		s.audit(ctx, *c, "closeday.finished", detail)
		s.Metrics.closed(closeReconciled)
		return nil
	}
	s.audit(ctx, *c, "closeday.mismatch", detail+"; looking for the payments that explain the difference")
	s.Metrics.closed(closeDiffers)
	return s.reconcile(ctx, c)
}

// reconcile looks for the payments that explain a closed day's difference with the gateway:
// it asks the gateway again about every payment the close could have missed, then finds the
// set of late-known approvals (added) and members the gateway did not count (removed) whose
// totals are exactly the difference, and records them. Until it finds them the close is
// looked at again every minute (ReconcileFor), and before the next close sends. The caller
// holds c's lease.
func (s *Service) reconcile(ctx context.Context, c *models.CloseDay) error {
	if !c.Mismatch || c.Explained || c.SentAt == nil {
		return nil
	}
	since, err := s.Store.SweepSince(ctx, c.EndpointID, c.ID)
	if err == nil {
		ids, err := s.Store.SweepCandidates(ctx, c.EndpointID, since, c.SentAt, sweepLimit)
		if err == nil {
			s.Sweeper.Settle(ctx, ids, "reconciling close "+c.RequestID)
		}
	}
	adds, removes, err := s.Store.ReconcileCandidates(ctx, *c)
	if err != nil {
		return fmt.Errorf("closeday: reconcile close %d: %w", c.ID, err)
	}
	// Sales (and captures) and reversals (refunds and releases) are totalled apart by the
	// gateway: each difference is explained by its own kind of payment.
	sa, sr := byReversal(adds, false), byReversal(removes, false)
	ra, rr := byReversal(adds, true), byReversal(removes, true)
	a1, r1, ok1 := ExplainDifference(sa, sr, c.GwSaleCount-c.SaleCount, c.GwSaleSumMinor-c.SaleSumMinor)
	a2, r2, ok2 := ExplainDifference(ra, rr, c.GwReversalCount-c.ReversalCount, c.GwReversalMinor-c.ReversalMinor)
	a, r, ok := append(a1, a2...), append(r1, r2...), ok1 && ok2
	if ok && (len(a) > 0 || len(r) > 0) {
		if err := s.Store.Explain(ctx, c, a, r); err != nil {
			return fmt.Errorf("closeday: explain close %d: %w", c.ID, err)
		}
		s.audit(ctx, *c, "closeday.explained", fmt.Sprintf("the difference is explained by %d adjustment(s), net %s: %s", c.AdjustCount,
			c.Amount(c.AdjustMinor), adjustmentList(a, r)))
		s.Metrics.closed(closeExplained)
		s.publish(c.ID)
		return nil
	}
	if c.FinishedAt != nil && s.now().Sub(*c.FinishedAt) < ReconcileFor {
		next := s.now().Add(reconcileEvery)
		c.NextCheckAt = &next
	} else {
		c.NextCheckAt = nil
	}
	return s.move(ctx, c, c.State)
}

// byReversal keeps the refunds and releases (reversal true) or everything else.
func byReversal(ts []models.Transaction, reversal bool) []models.Transaction {
	var out []models.Transaction
	for _, t := range ts {
		if (t.Kind.Wire() == "reversal") == reversal {
			out = append(out, t)
		}
	}
	return out
}

func adjustmentList(adds, removes []models.Transaction) string {
	var parts []string
	for _, t := range adds {
		parts = append(parts, fmt.Sprintf("+%s %s", t.ClientOrderID, t.Amount()))
	}
	for _, t := range removes {
		parts = append(parts, fmt.Sprintf("-%s %s", t.ClientOrderID, t.Amount()))
	}
	return strings.Join(parts, ", ")
}

// ExplainDifference finds which candidates account exactly for a close's difference (the
// gateway's count and sum minus ours): adds are approved payments the close did not count,
// removes are members the gateway may not have counted. It prefers all candidates together,
// then the smallest subset that fits; ok is false when nothing fits.
func ExplainDifference(adds, removes []models.Transaction, dCount int, dSum int64) (a, r []models.Transaction, ok bool) {
	n := len(adds) + len(removes)
	fits := func(mask uint64) bool {
		var c int
		var sum int64
		for i := range n {
			if mask&(1<<i) == 0 {
				continue
			}
			if i < len(adds) {
				c, sum = c+1, sum+adds[i].AmountMinor
			} else {
				c, sum = c-1, sum-removes[i-len(adds)].AmountMinor
			}
		}
		return c == dCount && sum == dSum
	}
	pick := func(mask uint64) ([]models.Transaction, []models.Transaction) {
		var a, r []models.Transaction
		for i := range n {
			if mask&(1<<i) == 0 {
				continue
			}
			if i < len(adds) {
				a = append(a, adds[i])
			} else {
				r = append(r, removes[i-len(adds)])
			}
		}
		return a, r
	}
	if n == 0 {
		return nil, nil, dCount == 0 && dSum == 0
	}
	if n <= 63 && fits(1<<n-1) {
		a, r = pick(1<<n - 1)
		return a, r, true
	}
	if n > 18 {
		return nil, nil, false // too many to search: left to a person
	}
	best, found := uint64(0), false
	for mask := uint64(1); mask < 1<<n; mask++ {
		if fits(mask) && (!found || bits.OnesCount64(mask) < bits.OnesCount64(best)) {
			best, found = mask, true
		}
	}
	if !found {
		return nil, nil, false
	}
	a, r = pick(best)
	return a, r, true
}

func encodeRaw(r *mapi.CloseDayResponse) string {
	var pairs []mapi.Pair
	for k, vs := range r.Raw {
		for _, v := range vs {
			pairs = append(pairs, mapi.Pair{Key: k, Value: v})
		}
	}
	return string(mapi.EncodeResponse(pairs))
}

// move writes c in state to (models.CloseDays.Move: refused when the transition is illegal
// or c changed under another holder) and publishes the change.
func (s *Service) move(ctx context.Context, c *models.CloseDay, to models.CloseState) error {
	if err := s.Store.Move(ctx, c, to); err != nil {
		return err
	}
	s.publish(c.ID)
	return nil
}

// watchBatch bounds how many closes one Watch works on.
const watchBatch = 50

// Watch runs what is due: closes a dead process left pending or sending, retries of unknown
// outcomes, lock checks (a locked gate counts as released once the gateway has accepted a
// payment on it again), and differences still being explained. Each due close is leased
// (models.CloseDays.LeaseDue), so two instances never work on the same one; they are taken one
// at a time, because each may take a request's timeout: a second instance shares the work,
// and every lease starts when its work does.
func (s *Service) Watch(ctx context.Context) error {
	now := s.now()
	seen := map[uint]bool{}
	for range watchBatch {
		due, err := s.Store.LeaseDue(ctx, now, s.now().Add(s.leaseFor()), 1)
		if err != nil || len(due) == 0 {
			return err
		}
		c := due[0]
		if seen[c.ID] {
			// Worked on in this round and due again: the next round takes it.
			return s.Store.Release(ctx, c)
		}
		seen[c.ID] = true
		if err := s.work(ctx, c, s.check); err != nil {
			s.logFailure("close day check", c.ID, err)
		}
	}
	return nil
}

// check does what is due on close c, whose lease the caller holds.
func (s *Service) check(ctx context.Context, c *models.CloseDay) error {
	switch c.State {
	case models.ClosePending, models.CloseSending, models.CloseUnknown:
		return s.send(ctx, c)
	case models.CloseLocked:
		released, err := s.Store.AcceptedSince(ctx, c.EndpointID, *c.FinishedAt)
		if err != nil {
			return err
		}
		to := c.State
		if released {
			to, c.NextCheckAt = models.CloseFinished, nil
			c.Error = "gate lock released (the gateway accepted payments again)"
		} else {
			next := s.now().Add(LockWatchdog)
			c.NextCheckAt = &next
			c.Error = "the gate is still locked: release it on the gateway's gate lock release screen (CLEAR_CLOSING_DAY_FLAG)"
		}
		if err := s.move(ctx, c, to); err != nil {
			return err
		}
		if c.Mismatch && !c.Explained {
			return s.reconcile(ctx, c)
		}
		return nil
	case models.CloseFinished:
		if c.Mismatch && !c.Explained {
			return s.reconcile(ctx, c)
		}
	}
	c.NextCheckAt = nil
	return s.move(ctx, c, c.State)
}

// Schedule describes an endpoint's automatic close.
type Schedule struct {
	EndpointID uint
	CloseTime  string    // HH:MM local
	TimeZone   string    // IANA name
	Since      time.Time // when the schedule was set or last changed: closes due before it do not run
}

// DueBusinessDay says which business day's automatic close is due at now: the latest local
// date whose close time has passed, and not before the schedule was set (a schedule set at
// 23:56 for 23:30 starts tomorrow). Local time is computed in the endpoint's zone, so a DST
// change moves the close with the wall clock, and each local date has exactly one close.
// at is that day's close time.
func DueBusinessDay(sc Schedule, now time.Time) (day string, at time.Time, due bool) {
	loc, err := time.LoadLocation(sc.TimeZone)
	if err != nil || sc.CloseTime == "" {
		return "", time.Time{}, false
	}
	hm, err := time.Parse("15:04", sc.CloseTime)
	if err != nil {
		return "", time.Time{}, false
	}
	local := now.In(loc)
	at = time.Date(local.Year(), local.Month(), local.Day(), hm.Hour(), hm.Minute(), 0, 0, loc)
	if local.Before(at) {
		y := local.AddDate(0, 0, -1)
		at = time.Date(y.Year(), y.Month(), y.Day(), hm.Hour(), hm.Minute(), 0, 0, loc)
	}
	if at.Before(sc.Since) {
		return "", time.Time{}, false
	}
	return at.Format("2006-01-02"), at, true
}

// catchUpAfter is how late a scheduled close may run and still count as on time; later it is
// a catch-up after downtime, labelled so.
const catchUpAfter = time.Hour

// RunSchedules triggers every automatic close that is due: once per business day (the unique
// endpoint and day key makes a restart or a second instance harmless), not for a day that a
// close already covers, and, after downtime, once for all the days missed, labelled with the
// days it covers.
func (s *Service) RunSchedules(ctx context.Context, schedules []Schedule) (int, error) {
	n := 0
	now := s.now()
	for _, sc := range schedules {
		day, at, due := DueBusinessDay(sc, now)
		if !due {
			continue
		}
		covered, err := s.Store.CoveredThrough(ctx, sc.EndpointID)
		if err != nil {
			return n, err
		}
		if covered >= day {
			continue // that day is closed already (by hand, or by the schedule)
		}
		from, err := s.Store.FirstOpenDay(ctx, sc.EndpointID)
		if err != nil {
			return n, err
		}
		first := firstScheduledDay(sc)
		if covered != "" {
			first = nextDay(covered)
		}
		if from == "" || (first != "" && first < from) {
			from = first
		}
		if from == "" || from > day {
			from = day
		}
		trigger := models.TriggerSchedule
		if now.Sub(at) > catchUpAfter {
			trigger = models.TriggerCatchUp
		}
		_, err = s.Trigger(ctx, TriggerInput{EndpointID: sc.EndpointID, Actor: models.ActorSchedule, Trigger: trigger,
			ScheduledDay: day, DaysFrom: from, DaysTo: day})
		switch {
		case err == nil:
			n++
		case errors.Is(err, models.ErrConflict), errors.Is(err, models.ErrCloseRunning):
		default:
			return n, err
		}
	}
	return n, nil
}

// firstScheduledDay is the first business day whose close the schedule owns: the day it was
// set, or the next one when it was set after that day's close time.
func firstScheduledDay(sc Schedule) string {
	loc, err := time.LoadLocation(sc.TimeZone)
	if err != nil || sc.Since.IsZero() {
		return ""
	}
	hm, err := time.Parse("15:04", sc.CloseTime)
	if err != nil {
		return ""
	}
	local := sc.Since.In(loc)
	if at := time.Date(local.Year(), local.Month(), local.Day(), hm.Hour(), hm.Minute(), 0, 0, loc); local.After(at) {
		local = local.AddDate(0, 0, 1)
	}
	return local.Format("2006-01-02")
}

func nextDay(day string) string {
	t, err := time.Parse("2006-01-02", day)
	if err != nil {
		return day
	}
	return t.AddDate(0, 0, 1).Format("2006-01-02")
}
