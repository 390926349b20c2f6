package mapi

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"strings"
)

// Control is the gateway's SHA-1 checksum: lower-case hex of SHA-1 over the plain
// concatenation of parts, no separators (§2.1). The merchant control key is always the last
// part.
func Control(parts ...string) string {
	h := sha1.New()
	for _, p := range parts {
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// StatusControl signs a status request: login + client_orderid + orderid + key. An orderid
// that is not known yet (the sale timed out) is the empty string (Decision 5).
func StatusControl(login, clientOrderID, orderID, key string) string {
	return Control(login, clientOrderID, orderID, key)
}

// CallbackControl signs a callback: status + orderid + merchant_order + key (Decision 4).
func CallbackControl(status, orderID, merchantOrder, key string) string {
	return Control(status, orderID, merchantOrder, key)
}

// MoneyControl signs a capture or return (§13.1): login + client_orderid + orderid +
// amount in minor units ("1042") + currency + key, with the original order's ids.
func MoneyControl(login, clientOrderID, orderID string, amount Amount, currency, key string) string {
	return Control(login, clientOrderID, orderID, amount.Minor(), currency, key)
}

// ControlEqual compares a received control with the expected one, ignoring hex case, in
// constant time.
func ControlEqual(got, want string) bool {
	g, w := strings.ToLower(got), strings.ToLower(want)
	return subtle.ConstantTimeCompare([]byte(g), []byte(w)) == 1
}
