package mapi

import (
	"errors"
	"fmt"
)

// ValidationError is a request the gateway refused (type=validation-error): nothing was
// created, and the same request will be refused again.
type ValidationError struct {
	Code, Message, SerialNumber, MerchantOrderID, OrderID string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("mapi: validation error %s: %s", e.Code, e.Message)
}

// GatewayError is a processing error the gateway reported (type=error), such as a gate locked
// by Close Day.
type GatewayError struct {
	Code, Message, SerialNumber, MerchantOrderID, OrderID string
}

func (e *GatewayError) Error() string {
	return fmt.Sprintf("mapi: gateway error %s: %s", e.Code, e.Message)
}

// ErrForbidden is the gateway's HTTP 403: the OAuth signature, timestamp, nonce or login was
// not accepted. The request was not processed.
var ErrForbidden = errors.New("mapi: forbidden (HTTP 403): OAuth credentials refused")

// TransportError is a request whose outcome is unknown: a timeout, a broken connection, an
// HTTP status other than 200 or 403, or a body that is not a gateway response. The gateway may
// or may not have processed it: ask for the status before doing anything else (§9).
type TransportError struct {
	Op         string // sale, preauth, status, close-day, capture, return
	URL        string
	StatusCode int // 0 when no HTTP response arrived
	Err        error
}

func (e *TransportError) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("mapi: %s %s: HTTP %d: outcome unknown", e.Op, e.URL, e.StatusCode)
	}
	return fmt.Sprintf("mapi: %s %s: %v: outcome unknown", e.Op, e.URL, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// IsUnknownOutcome reports whether err leaves it open whether the gateway processed the
// request. A sale that failed this way must not be resent before a status request says the
// gateway has no such order.
func IsUnknownOutcome(err error) bool {
	var te *TransportError
	return errors.As(err, &te)
}
