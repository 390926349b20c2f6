package sandbox

import (
	"time"
)

// The sandbox keeps all of its state in its own SQLite file, so a restart resumes processing,
// callback retries and close-day locks where they were.

type merchant struct {
	EndpointID    string `gorm:"primaryKey;size:16"`
	Login         string `gorm:"uniqueIndex;size:64"`
	ControlKey    string `gorm:"size:64"`
	Currency      string `gorm:"size:3"`
	GateID        int64
	EpntID        int64
	CallbackURL   string `gorm:"size:1024"`
	AllowCloseAPI bool
	LockedUntil   *time.Time // gate locked by a running close day
	RRNSeq        int
	Descriptor    string `gorm:"size:64"`
}

type reader struct {
	Serial     string `gorm:"primaryKey;size:50"`
	EndpointID string `gorm:"index;size:16"`
	BDK        string `gorm:"size:32"` // hex
	IKSN       string `gorm:"size:20"` // hex, counter zero
}

type order struct {
	ID            int64     `gorm:"primaryKey"`
	CreatedAt     time.Time `gorm:"index"`
	EndpointID    string    `gorm:"uniqueIndex:idx_order_client;size:16"`
	ClientOrderID string    `gorm:"uniqueIndex:idx_order_client;size:128"`
	Kind          string    `gorm:"size:16"`
	AmountMinor   int64
	Currency      string     `gorm:"size:3"`
	Fingerprint   string     `gorm:"size:64"` // what makes a repeat an idempotent replay (§9)
	DeviceSerial  string     `gorm:"index;size:50"`
	Status        string     `gorm:"index;size:20"`
	Stage         string     `gorm:"size:32"`
	DueAt         *time.Time `gorm:"index"` // next processing step
	FinalAt       *time.Time
	ApprovalCode  string `gorm:"size:6"`
	RRN           string `gorm:"index;size:12"`
	ReceiptID     string `gorm:"size:36"`
	TerminalID    string `gorm:"size:16"`
	BIN           string `gorm:"size:6"`
	Last4         string `gorm:"index;size:4"`
	CardType      string `gorm:"size:16"`
	ExpMonth      string `gorm:"size:2"`
	ExpYear       string `gorm:"size:4"`
	HolderName    string `gorm:"size:128"`
	Expired       bool
	ErrorCode     string `gorm:"size:8"`
	ErrorMessage  string `gorm:"size:128"`
	CallbackURL   string `gorm:"size:1024"`
	RequestSerial string `gorm:"size:36"`
	CloseID       *int64 `gorm:"index"`
	MerchantData  string `gorm:"size:4096"` // the sale/preauth's merchant_data, echoed in every callback (§6.2)
}

// operation is a capture or a return of an order (§13): a transaction of its own with its own
// serial-number, status, stage and callback, processed like an order. kind is capture or
// reversal; a return is a reversal whether it refunds or releases a hold.
type operation struct {
	ID            int64     `gorm:"primaryKey"`
	CreatedAt     time.Time `gorm:"index"`
	OrderID       int64     `gorm:"index"`
	EndpointID    string    `gorm:"index;size:16"` // the order's, for close-day totals
	Kind          string    `gorm:"size:16"`
	AmountMinor   int64
	Currency      string     `gorm:"size:3"`
	Comment       string     `gorm:"size:50"`
	RequestSerial string     `gorm:"uniqueIndex;size:36"` // the serial-number of the request that created it
	Status        string     `gorm:"index;size:20"`
	Stage         string     `gorm:"size:32"`
	DueAt         *time.Time `gorm:"index"`
	FinalAt       *time.Time
	ApprovalCode  string `gorm:"size:6"`
	RRN           string `gorm:"size:12"`
	ErrorCode     string `gorm:"size:8"`
	ErrorMessage  string `gorm:"size:128"`
	CloseID       *int64 `gorm:"index"`
}

// request remembers every accepted request's serial-number, for status requests with
// by-request-sn (which answer for the order as it stands now).
type request struct {
	Serial  string `gorm:"primaryKey;size:36"`
	OrderID int64  `gorm:"index"`
	Stage   string `gorm:"size:32"`
	Status  string `gorm:"size:20"`
}

type nonce struct {
	Login     string    `gorm:"primaryKey;size:64"`
	Nonce     string    `gorm:"primaryKey;size:128"`
	ExpiresAt time.Time `gorm:"index"`
}

// delivery is one callback delivery job: one per (order, operation, type, status), retried on
// the configured schedule until the receiver answers 200. OperationID 0 is the order's own
// transaction; every capture and return has its own jobs, so two partial refunds of one order
// are two callbacks. (State files from before operations carry a unique index idx_delivery
// without the operation: Open drops it.)
type delivery struct {
	ID          int64  `gorm:"primaryKey"`
	OrderID     int64  `gorm:"uniqueIndex:idx_delivery_tx;index"`
	OperationID int64  `gorm:"uniqueIndex:idx_delivery_tx;not null;default:0"`
	Type        string `gorm:"uniqueIndex:idx_delivery_tx;size:16"`
	Status      string `gorm:"uniqueIndex:idx_delivery_tx;size:20"`
	URL         string `gorm:"size:1024"`
	Attempts    int
	NextAt      *time.Time `gorm:"index"` // nil: finished (delivered or given up)
	Delivered   bool
	Suppressed  bool // a fault switch kept it from being sent
	Duplicate   bool // chaos: deliver once more after the first 200
	LastCode    int
	LastError   string `gorm:"size:255"`
	DeliveredAt *time.Time
}

type attempt struct {
	ID         int64 `gorm:"primaryKey"`
	DeliveryID int64 `gorm:"index"`
	At         time.Time
	Code       int
	Error      string `gorm:"size:255"`
}

type closeDay struct {
	ID            int64     `gorm:"primaryKey"`
	CreatedAt     time.Time `gorm:"index"`
	EndpointID    string    `gorm:"uniqueIndex:idx_close_req;size:16"`
	RequestID     string    `gorm:"uniqueIndex:idx_close_req;size:32"`
	Response      string    // the encoded response, replayed verbatim for a repeated request id
	SaleCount     int
	SaleSum       int64
	ReversalCount int
	ReversalSum   int64
	Code39        string `gorm:"size:2"`
	RRN           string `gorm:"size:12"`
}

func allTables() []any {
	return []any{&merchant{}, &reader{}, &order{}, &operation{}, &request{}, &nonce{}, &delivery{}, &attempt{}, &closeDay{}}
}
