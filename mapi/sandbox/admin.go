package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/example/mposportal/mapi"
)

// The read-only admin API (§11 suggestion): order search, callback delivery log, close-day
// history. It shows no card numbers: the sandbox never stores them.

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

type orderView struct {
	OrderID       int64      `json:"orderid"`
	ClientOrderID string     `json:"client_orderid"`
	EndpointID    string     `json:"endpoint_id"`
	Type          string     `json:"type"`
	Amount        string     `json:"amount"`
	Currency      string     `json:"currency"`
	Status        string     `json:"status"`
	Stage         string     `json:"stage"`
	DeviceSerial  string     `json:"device_serial"`
	CardType      string     `json:"card_type"`
	BIN           string     `json:"bin"`
	Last4         string     `json:"last4"`
	ApprovalCode  string     `json:"approval_code,omitempty"`
	RRN           string     `json:"rrn,omitempty"`
	ErrorCode     string     `json:"error_code,omitempty"`
	ErrorMessage  string     `json:"error_message,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	FinalAt       *time.Time `json:"final_at,omitempty"`
	CloseID       *int64     `json:"close_id,omitempty"`
	// Operations are the order's captures and returns, oldest first.
	Operations []operationView `json:"operations,omitempty"`
}

type operationView struct {
	Type         string     `json:"type"` // capture or reversal
	SerialNumber string     `json:"serial_number"`
	Amount       string     `json:"amount"`
	Currency     string     `json:"currency"`
	Comment      string     `json:"comment,omitempty"`
	Status       string     `json:"status"`
	Stage        string     `json:"stage"`
	ApprovalCode string     `json:"approval_code,omitempty"`
	RRN          string     `json:"rrn,omitempty"`
	ErrorCode    string     `json:"error_code,omitempty"`
	ErrorMessage string     `json:"error_message,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	FinalAt      *time.Time `json:"final_at,omitempty"`
	CloseID      *int64     `json:"close_id,omitempty"`
}

// adminOrders handles GET /sandbox/api/orders?client_orderid=&orderid=&serial=&last4=&rrn=&status=.
func (g *Gateway) adminOrders(w http.ResponseWriter, r *http.Request) {
	q := g.db.Model(&order{}).Order("id DESC").Limit(500)
	for param, col := range map[string]string{"client_orderid": "client_order_id", "orderid": "id", "serial": "device_serial",
		"last4": "last4", "rrn": "rrn", "status": "status"} {
		if v := r.URL.Query().Get(param); v != "" {
			q = q.Where(col+" = ?", v)
		}
	}
	var os []order
	if err := q.Find(&os).Error; err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	ids := make([]int64, len(os))
	for i, o := range os {
		ids[i] = o.ID
	}
	var ps []operation
	if err := g.db.Where("order_id IN ?", ids).Order("id").Find(&ps).Error; err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	ops := map[int64][]operationView{}
	for _, p := range ps {
		ops[p.OrderID] = append(ops[p.OrderID], operationView{p.Kind, p.RequestSerial, mapi.Amount(p.AmountMinor).Format(p.Currency),
			p.Currency, p.Comment, p.Status, p.Stage, p.ApprovalCode, p.RRN, p.ErrorCode, p.ErrorMessage, p.CreatedAt, p.FinalAt, p.CloseID})
	}
	out := make([]orderView, len(os))
	for i, o := range os {
		out[i] = orderView{o.ID, o.ClientOrderID, o.EndpointID, o.Kind, mapi.Amount(o.AmountMinor).Format(o.Currency),
			o.Currency, o.Status, o.Stage, o.DeviceSerial, o.CardType, o.BIN, o.Last4, o.ApprovalCode, o.RRN, o.ErrorCode,
			o.ErrorMessage, o.CreatedAt, o.FinalAt, o.CloseID, ops[o.ID]}
	}
	writeJSON(w, out)
}

// adminCallbacks handles GET /sandbox/api/callbacks?orderid=: deliveries with their attempts.
func (g *Gateway) adminCallbacks(w http.ResponseWriter, r *http.Request) {
	q := g.db.Order("id DESC").Limit(500)
	if v := r.URL.Query().Get("orderid"); v != "" {
		q = q.Where("order_id = ?", v)
	}
	var ds []delivery
	if err := q.Find(&ds).Error; err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	type view struct {
		delivery
		AttemptLog []attempt `json:"attempt_log"`
	}
	out := make([]view, len(ds))
	for i, d := range ds {
		out[i].delivery = d
		g.db.Where("delivery_id = ?", d.ID).Order("id").Find(&out[i].AttemptLog)
	}
	writeJSON(w, out)
}

// adminCloses handles GET /sandbox/api/closes: the close-day history.
func (g *Gateway) adminCloses(w http.ResponseWriter, r *http.Request) {
	var cs []closeDay
	if err := g.db.Order("id DESC").Limit(500).Find(&cs).Error; err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, cs)
}

// LedgerOrder is one order as the gateway's ledger holds it: what a reconciliation compares.
type LedgerOrder struct {
	OrderID       int64
	ClientOrderID string
	Kind          string
	Status        string
	AmountMinor   int64
}

// Ledger returns every order, oldest first. Their captures and returns are in
// LedgerOperations.
func (g *Gateway) Ledger() ([]LedgerOrder, error) {
	var os []order
	if err := g.db.Order("id").Find(&os).Error; err != nil {
		return nil, fmt.Errorf("sandbox: ledger: %w", err)
	}
	out := make([]LedgerOrder, len(os))
	for i, o := range os {
		out[i] = LedgerOrder{o.ID, o.ClientOrderID, o.Kind, o.Status, o.AmountMinor}
	}
	return out, nil
}

// adminFaults handles GET /sandbox/api/faults: the fault switches in force.
func (g *Gateway) adminFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, g.getFaults())
}

// adminSetFaults handles PUT /sandbox/api/faults: replaces the fault switches (a JSON Faults;
// absent fields are off), for demos and browser tests of the portal against a misbehaving
// gateway. The sandbox is a test gateway: it listens on loopback unless told otherwise.
func (g *Gateway) adminSetFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		http.Error(w, "faults: "+err.Error(), http.StatusBadRequest)
		return
	}
	g.SetFaults(f)
	writeJSON(w, g.getFaults())
}
