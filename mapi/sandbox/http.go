package sandbox

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/example/mposportal/mapi"
	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Handler serves the gateway's API under /paynet/ and a read-only JSON admin API under
// /sandbox/api/.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /paynet/mapi/v1/sale/{endpoint}", g.order("sale"))
	mux.HandleFunc("POST /paynet/mapi/v1/preauth/{endpoint}", g.order("preauth"))
	mux.HandleFunc("POST /paynet/api/v2/status/{endpoint}", g.status)
	mux.HandleFunc("POST /paynet/api/v2/close-day/{endpoint}", g.closeDayHandler)
	mux.HandleFunc("POST /paynet/api/v2/capture/{endpoint}", g.money("capture"))
	mux.HandleFunc("POST /paynet/api/v2/return/{endpoint}", g.money("reversal"))
	mux.HandleFunc("GET /sandbox/api/orders", g.adminOrders)
	mux.HandleFunc("GET /sandbox/api/callbacks", g.adminCallbacks)
	mux.HandleFunc("GET /sandbox/api/closes", g.adminCloses)
	mux.HandleFunc("GET /sandbox/api/faults", g.adminFaults)
	mux.HandleFunc("PUT /sandbox/api/faults", g.adminSetFaults)
	return mux
}

// apiError is a validation-error or error answer (§8).
type apiError struct {
	typ, code, msg string
	orderID        int64
}

func (e *apiError) Error() string { return e.msg }

func validation(code, format string, args ...any) *apiError {
	return &apiError{typ: "validation-error", code: code, msg: fmt.Sprintf(format, args...)}
}

// write sends a gateway response: HTTP 200 and the "&"-joined body (§1.1).
func write(w http.ResponseWriter, pairs []mapi.Pair) {
	w.Header().Set("Content-Type", "text/html;charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(mapi.EncodeResponse(pairs))
}

func writeError(w http.ResponseWriter, e *apiError, clientOrderID string) {
	pairs := []mapi.Pair{{Key: "type", Value: e.typ}, {Key: "serial-number", Value: newSerial()}}
	if clientOrderID != "" {
		pairs = append(pairs, mapi.Pair{Key: "merchant-order-id", Value: clientOrderID})
	}
	if e.orderID != 0 {
		pairs = append(pairs, mapi.Pair{Key: "paynet-order-id", Value: strconv.FormatInt(e.orderID, 10)})
	}
	pairs = append(pairs, mapi.Pair{Key: "error-message", Value: e.msg}, mapi.Pair{Key: "error-code", Value: e.code})
	write(w, pairs)
}

// forbidden is the OAuth failure answer: 403 with a short text body (§2.2).
func forbidden(w http.ResponseWriter) {
	http.Error(w, "403 Forbidden", http.StatusForbidden)
}

func newSerial() string { return uuid.NewString() }

// form parses a request body; the gateway strips surrounding white space from values (§1).
func form(r *http.Request) (url.Values, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	return r.PostForm, nil
}

// authenticate applies OAuth and the gateway's policy: the login must own the endpoint in the
// URL, the signature must verify against the URL as the client saw it, the timestamp must be
// within the window, and the nonce must be new for that login. Any failure is a 403.
func (g *Gateway) authenticate(r *http.Request, f url.Values) (merchant, error) {
	var m merchant
	if g.getFaults().Forbid {
		return m, errors.New("forced 403")
	}
	o, err := mapi.ParseOAuthHeader(r.Header.Get("Authorization"))
	if err != nil {
		return m, err
	}
	if err := g.db.Where("endpoint_id = ?", r.PathValue("endpoint")).First(&m).Error; err != nil {
		return m, fmt.Errorf("endpoint %s: %w", r.PathValue("endpoint"), err)
	}
	if m.Login != o.ConsumerKey {
		return m, fmt.Errorf("login %q is not bound to endpoint %s", o.ConsumerKey, m.EndpointID)
	}
	if _, err := mapi.VerifyRequest(r.Method, g.cfg.PublicURL+r.URL.EscapedPath(), r.Header.Get("Authorization"), f, m.ControlKey); err != nil {
		return m, err
	}
	ts, _ := strconv.ParseInt(o.Timestamp, 10, 64)
	now := g.now()
	if win := g.cfg.TimestampWindow; win > 0 {
		if d := now.Sub(time.Unix(ts, 0)); d > win || d < -win {
			return m, fmt.Errorf("timestamp %s outside the window", o.Timestamp)
		}
	}
	// Remember the nonce for the window (at least a day when the window is off).
	keep := g.cfg.TimestampWindow
	if keep <= 0 {
		keep = 24 * time.Hour
	}
	res := g.db.Create(&nonce{Login: m.Login, Nonce: o.Nonce, ExpiresAt: now.Add(2 * keep)})
	if res.Error != nil {
		if errors.Is(res.Error, gorm.ErrDuplicatedKey) || isUniqueViolation(res.Error) {
			return m, fmt.Errorf("nonce %q replayed", o.Nonce)
		}
		return m, res.Error
	}
	return m, nil
}
