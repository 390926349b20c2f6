package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/payments"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
)

// CallbackLog keeps every callback delivery.
type CallbackLog interface {
	Record(ctx context.Context, d models.CallbackDelivery) error
	ListPage(ctx context.Context, outcome string, p models.Page) ([]models.CallbackDelivery, models.Paged, error)
}

// CallbackApplier applies a gateway callback to its payment (payments.Service).
type CallbackApplier interface {
	ApplyCallback(ctx context.Context, cb payments.Callback) (payments.CallbackResult, error)
}

// CallbackKeys finds an endpoint's control key, to verify its callbacks: ControlKey may
// answer with a key read a moment ago, FreshControlKey reads it now.
type CallbackKeys interface {
	ControlKey(ctx context.Context, id uint) (string, error)
	FreshControlKey(ctx context.Context, id uint) (string, error)
}

// CallbackHandlers serve the gateway's server callback (a machine path: no session, no CSRF)
// and the callback log's page (admins).
type CallbackHandlers struct {
	*pages
	payments  CallbackApplier
	endpoints CallbackKeys // the endpoint's control key
	callbacks CallbackLog
	metrics   *metrics  // callbacks by outcome
	throttle  *throttle // addresses sending callbacks that fail verification ("callback:")
}

func newCallbackHandlers(p *pages, pay CallbackApplier, endpoints CallbackKeys, callbacks CallbackLog, m *metrics) *CallbackHandlers {
	return &CallbackHandlers{pages: p, payments: pay, endpoints: endpoints, callbacks: callbacks, metrics: m, throttle: newThrottle(p.now)}
}

// gatewayCallback handles "GET /callbacks/mapi/:id", the gateway's server callback for the
// endpoint row id. It answers 200 only after the payment change is durable; a forged or
// mismatched callback gets 403 and changes nothing; an unknown order gets 200 (so the gateway
// stops) and is logged.
func (s *CallbackHandlers) gatewayCallback(c *gin.Context) {
	ctx := c.Request.Context()
	q := c.Request.URL.Query()
	ip := c.ClientIP()
	d := models.CallbackDelivery{RemoteIP: ip, ClientOrderID: q.Get("merchant_order"), OrderID: q.Get("orderid"),
		Status: q.Get("status"), Type: q.Get("type"), Amount: q.Get("amount")}
	if d.ClientOrderID == "" {
		d.ClientOrderID = q.Get("client_orderid")
	}
	logged := false // the delivery was logged with the payment's change
	answer := func(status int, outcome, detail string) {
		s.metrics.callbacks.WithLabelValues(outcome).Inc()
		d.HTTPStatus, d.Outcome, d.Detail = status, outcome, detail
		if !logged {
			if err := s.callbacks.Record(ctx, d); err != nil {
				s.log.Error("callback log", "error", err)
			}
		}
		// The outcomes are fixed words: the answer needs no encoder.
		c.Data(status, "application/json; charset=utf-8", []byte(`{"outcome":"`+outcome+`"}`))
	}
	// An address that keeps sending callbacks that fail verification is slowed down, and
	// what it sends is no longer logged: only the gateway's callbacks verify.
	badKey := "callback:" + ip
	if s.throttle.blocked(badKey) > 0 {
		s.metrics.callbacks.WithLabelValues("throttled").Inc()
		c.JSON(http.StatusTooManyRequests, gin.H{"outcome": "throttled"})
		return
	}
	refuse := func(status int, outcome, detail string) {
		s.throttle.failed(badKey)
		answer(status, outcome, detail)
	}
	id, err := strconv.ParseUint(c.Param("id"), 10, 32)
	if err != nil {
		refuse(http.StatusNotFound, "unknown_endpoint", "no such endpoint")
		return
	}
	d.EndpointID = uint(id)
	key, err := s.endpoints.ControlKey(ctx, uint(id))
	if err != nil {
		refuse(http.StatusNotFound, "unknown_endpoint", "no such endpoint")
		return
	}
	in := payments.Callback{EndpointID: uint(id), Key: key, Query: q, Delivery: d}
	res, err := s.payments.ApplyCallback(ctx, in)
	if errors.Is(err, mapi.ErrBadControl) {
		// The key may have changed a moment ago (on another instance): verified once more
		// with the key as stored now before it is called forged.
		if fresh, ferr := s.endpoints.FreshControlKey(ctx, uint(id)); ferr == nil && fresh != key {
			in.Key = fresh
			res, err = s.payments.ApplyCallback(ctx, in)
		}
	}
	logged, outcome := res.Logged, res.Outcome
	switch {
	case errors.Is(err, mapi.ErrBadControl), errors.Is(err, mapi.ErrBadCallback):
		refuse(http.StatusForbidden, "forged", err.Error())
	case errors.Is(err, payments.ErrCallbackMismatch):
		refuse(http.StatusForbidden, "mismatch", err.Error())
	case err != nil:
		s.log.Error("callback", "error", err, "order", d.ClientOrderID)
		answer(http.StatusInternalServerError, "error", "not stored; the gateway will retry")
	default:
		if outcome == payments.CallbackUnknown {
			s.log.Warn("callback for an unknown order", "order", d.ClientOrderID, "orderid", d.OrderID)
		}
		answer(http.StatusOK, string(outcome), "")
	}
}

// callbacksIndex handles "GET /admin/callbacks": newest first, a page at a time.
func (s *CallbackHandlers) callbacksIndex(c *gin.Context) {
	outcome := c.Query("outcome")
	ds, pg, err := s.callbacks.ListPage(c.Request.Context(), outcome, pageFrom(c))
	if err != nil {
		fail(c, err)
		return
	}
	s.render(c, http.StatusOK, "Callbacks", templates.CallbacksPage(ds, outcome, pager(c, pg)))
}
