package devices

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/models"
)

// Close-day retry and watchdog timing.
const (
	CloseRetryAfter     = 30 * time.Second // an unknown outcome is asked again with the same request id
	CloseLockWatchdog   = 5 * time.Minute  // how often a locked gate is re-checked
	closeRequestTimeout = 60 * time.Second
)

// CloseGateway is the part of the MAPI client Close Day needs.
type CloseGateway interface {
	CloseDay(ctx context.Context, r mapi.CloseDayRequest) (*mapi.CloseDayResponse, error)
}

// CloseGateways builds the client for an endpoint.
type CloseGateways interface {
	CloseGateway(ctx context.Context, endpointID uint) (CloseGateway, error)
}

// ClosePublisher is told when a close changed.
type ClosePublisher interface {
	CloseChanged(id uint)
}

// CloseDays runs Close Day: exactly one close per trigger, whatever happens on the way.
type CloseDays struct {
	Store    *models.CloseDays
	Gateways CloseGateways
	Pub      ClosePublisher
	Log      *slog.Logger
	Now      func() time.Time

	wg sync.WaitGroup
}

func (s *CloseDays) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *CloseDays) publish(id uint) {
	if s.Pub != nil {
		s.Pub.CloseChanged(id)
	}
}

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

// Trigger starts a close on an endpoint. A second trigger while one runs gets the running
// close back (models.ErrCloseRunning) and sends nothing. The request itself goes out in the
// background; its progress is published.
func (s *CloseDays) Trigger(ctx context.Context, endpointID uint, actor string, scheduledDay string) (models.CloseDay, error) {
	c := models.CloseDay{EndpointID: endpointID, RequestID: newCloseRequestID(s.now()), StartedBy: actor}
	if scheduledDay != "" {
		c.ScheduledDay = &scheduledDay
	}
	if err := s.Store.Start(ctx, &c); err != nil {
		return c, err
	}
	s.publish(c.ID)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.Send(context.WithoutCancel(ctx), c.ID)
	}()
	return c, nil
}

// Wait waits for closes in flight (shutdown, tests).
func (s *CloseDays) Wait() { s.wg.Wait() }

// Send sends (or re-sends, with the same request id) a close and records the answer.
func (s *CloseDays) Send(ctx context.Context, id uint) error {
	c, err := s.Store.ByID(ctx, id)
	if err != nil || c.Settled() {
		return err
	}
	gw, err := s.Gateways.CloseGateway(ctx, c.EndpointID)
	if err != nil {
		c.State, c.Error, c.NextCheckAt = models.CloseFailed, err.Error(), nil
		s.save(ctx, &c)
		return err
	}
	c.State, c.Attempts = models.CloseSending, c.Attempts+1
	s.save(ctx, &c)
	rctx, cancel := context.WithTimeout(ctx, closeRequestTimeout)
	defer cancel()
	resp, err := gw.CloseDay(rctx, mapi.CloseDayRequest{RequestID: c.RequestID, Totals: &mapi.CloseDayTotals{
		SaleCount: c.SaleCount, SaleSum: mapi.Amount(c.SaleSumMinor), ReversalCount: c.ReversalCount, ReversalSum: mapi.Amount(c.ReversalMinor)}})
	now := s.now()
	var verr *mapi.ValidationError
	var gerr *mapi.GatewayError
	switch {
	case err == nil:
		s.record(&c, resp, now)
	case mapi.IsUnknownOutcome(err):
		// The gateway may have closed: ask again with the same request id, which replays the
		// stored result instead of closing twice.
		next := now.Add(CloseRetryAfter)
		c.State, c.Error, c.NextCheckAt = models.CloseUnknown, "outcome unknown: "+err.Error(), &next
	case errors.As(err, &verr):
		c.State, c.Error, c.NextCheckAt, c.FinishedAt = models.CloseFailed, fmt.Sprintf("refused (%s): %s", verr.Code, verr.Message), nil, &now
	case errors.As(err, &gerr):
		c.State, c.Error, c.NextCheckAt, c.FinishedAt = models.CloseFailed, fmt.Sprintf("gateway error (%s): %s", gerr.Code, gerr.Message), nil, &now
	default:
		c.State, c.Error, c.NextCheckAt, c.FinishedAt = models.CloseFailed, err.Error(), nil, &now
	}
	return s.save(ctx, &c)
}

// record stores the gateway's answer and compares its totals with ours.
func (s *CloseDays) record(c *models.CloseDay, r *mapi.CloseDayResponse, now time.Time) {
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
		c.State, c.NextCheckAt = models.CloseFailed, nil
		c.Error = "the gateway reported the close as failed"
	case r.IsDayClosing:
		next := now.Add(CloseLockWatchdog)
		c.State, c.NextCheckAt = models.CloseLocked, &next
	case r.Status == "processing":
		next := now.Add(CloseRetryAfter)
		c.State, c.NextCheckAt = models.CloseUnknown, &next
	default:
		c.State, c.NextCheckAt = models.CloseFinished, nil
	}
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

func (s *CloseDays) save(ctx context.Context, c *models.CloseDay) error {
	if err := s.Store.Save(ctx, c); err != nil {
		s.Log.Error("close day save", "close", c.ID, "error", err)
		return err
	}
	s.publish(c.ID)
	return nil
}

// Watch runs the due retries (unknown outcome) and lock checks: a locked gate counts as
// released once the gateway has accepted a payment on it again.
func (s *CloseDays) Watch(ctx context.Context) error {
	due, err := s.Store.Due(ctx, s.now())
	if err != nil {
		return err
	}
	for _, c := range due {
		switch c.State {
		case models.ClosePending, models.CloseSending, models.CloseUnknown:
			if err := s.Send(ctx, c.ID); err != nil {
				s.Log.Warn("close day retry", "close", c.ID, "error", err)
			}
		case models.CloseLocked:
			released, err := s.Store.AcceptedSince(ctx, c.EndpointID, *c.FinishedAt)
			if err != nil {
				return err
			}
			if released {
				c.State, c.NextCheckAt = models.CloseFinished, nil
				c.Error = "gate lock released (the gateway accepted payments again)"
			} else {
				next := s.now().Add(CloseLockWatchdog)
				c.NextCheckAt = &next
				c.Error = "the gate is still locked: release it on the gateway's gate lock release screen (CLEAR_CLOSING_DAY_FLAG)"
			}
			s.save(ctx, &c)
		default:
			c.NextCheckAt = nil
			s.save(ctx, &c)
		}
	}
	return nil
}

// Schedule describes an endpoint's automatic close.
type Schedule struct {
	EndpointID uint
	CloseTime  string // HH:MM local
	TimeZone   string
}

// DueBusinessDay says whether an automatic close is due at now, and for which business day
// (the local date of the close time). Local time is computed in the endpoint's zone, so a
// DST change moves the close with the wall clock, and each local date has exactly one close.
func DueBusinessDay(sc Schedule, now time.Time) (string, bool) {
	loc, err := time.LoadLocation(sc.TimeZone)
	if err != nil || sc.CloseTime == "" {
		return "", false
	}
	hm, err := time.Parse("15:04", sc.CloseTime)
	if err != nil {
		return "", false
	}
	local := now.In(loc)
	at := time.Date(local.Year(), local.Month(), local.Day(), hm.Hour(), hm.Minute(), 0, 0, loc)
	if local.Before(at) {
		return "", false
	}
	return local.Format("2006-01-02"), true
}

// RunSchedules triggers every automatic close that is due and has not run for its business
// day. The unique (endpoint, business day) key makes a restart or a second instance harmless.
func (s *CloseDays) RunSchedules(ctx context.Context, schedules []Schedule) (int, error) {
	n := 0
	for _, sc := range schedules {
		day, due := DueBusinessDay(sc, s.now())
		if !due {
			continue
		}
		_, err := s.Trigger(ctx, sc.EndpointID, "schedule", day)
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
