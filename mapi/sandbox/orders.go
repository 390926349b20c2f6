package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/money"
	"gorm.io/gorm"
)

var (
	reHex      = regexp.MustCompile(`^[0-9A-Fa-f]+$`)
	reAlpha2   = regexp.MustCompile(`^[A-Za-z]{2}$`)
	reAlpha3   = regexp.MustCompile(`^[A-Za-z]{3}$`)
	reKSN      = regexp.MustCompile(`^[0-9A-Fa-f]{20}$`)
	entryModes = []string{"", "swipe", "chip", "contactless", "fallback_swipe"}
)

// maxMerchantData is merchant_data's documented length (§3.2): stored whole and echoed whole.
const maxMerchantData = 4096

// order handles POST /paynet/mapi/v1/{sale,preauth}/{ENDPOINTID} (§3).
func (g *Gateway) order(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f, err := form(r)
		if err != nil {
			http.Error(w, "bad request body", http.StatusBadRequest)
			return
		}
		m, err := g.authenticate(r, f)
		if err != nil {
			g.log.Info("sandbox: OAuth refused", "path", r.URL.Path, "reason", err.Error())
			forbidden(w)
			return
		}
		if d := g.takeSaleDelay(); d > 0 {
			// Stuck in a proxy: the work goes on even if the client gives up meanwhile, so the
			// request's context is deliberately not watched.
			time.Sleep(d)
		}
		faults := g.getFaults()
		if g.chance(faults.Sync5xxPct / 2) {
			http.Error(w, "bad gateway", http.StatusBadGateway) // before creating anything
			return
		}
		o, replay, aerr := g.createOrder(kind, m, f)
		if aerr != nil {
			writeError(w, aerr, strings.TrimSpace(f.Get("client_orderid")))
			return
		}
		if g.takeSync5xx() || g.chance(faults.Sync5xxPct/2) {
			// The order exists; the client just never hears so (§10 switch).
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		serial := o.RequestSerial
		if replay {
			serial = newSerial() // a replay is a new request with the original order (§9)
			g.db.Create(&request{Serial: serial, OrderID: o.ID, Stage: o.Stage, Status: o.Status})
		}
		write(w, []mapi.Pair{{Key: "type", Value: "async-response"}, {Key: "serial-number", Value: serial},
			{Key: "merchant-order-id", Value: o.ClientOrderID}, {Key: "paynet-order-id", Value: strconv.FormatInt(o.ID, 10)},
			{Key: "end-point-id", Value: o.EndpointID}})
	}
}

// createOrder validates a sale/preauth and creates its order, or finds the original of an
// idempotent replay.
func (g *Gateway) createOrder(kind string, m merchant, f url.Values) (order, bool, *apiError) {
	get := func(k string) string { return strings.TrimSpace(f.Get(k)) }
	for _, k := range []string{"client_orderid", "order_desc", "amount", "currency", "address1", "city", "zip_code",
		"country", "email", "device-serial-number", "encrypted-data", "ksn"} {
		if get(k) == "" {
			return order{}, false, validation("2", "Missing mandatory parameter: %s", k)
		}
	}
	amount, err := mapi.ParseAmount(get("amount"), strings.ToUpper(get("currency")))
	switch {
	case len(get("client_orderid")) > 128:
		return order{}, false, validation("3", "client_orderid is longer than 128 characters")
	case err != nil || amount <= 0:
		return order{}, false, validation("3", "amount must be a positive decimal with the currency's decimals (%d for %s)", money.MinorUnits(strings.ToUpper(get("currency"))), strings.ToUpper(get("currency")))
	case !reAlpha3.MatchString(get("currency")):
		return order{}, false, validation("3", "currency must be an ISO 4217 code")
	case !reAlpha2.MatchString(get("country")):
		return order{}, false, validation("3", "country must be an ISO 3166-1 alpha-2 code")
	case len(get("address1")) > 50 || len(get("city")) > 50 || len(get("zip_code")) > 10:
		return order{}, false, validation("3", "address1, city or zip_code is too long")
	case len(get("email")) > 50 || !strings.Contains(get("email"), "@"):
		return order{}, false, validation("3", "email is not a valid address")
	case len(get("device-serial-number")) > 50:
		return order{}, false, validation("3", "device-serial-number is longer than 50 characters")
	case !reKSN.MatchString(get("ksn")):
		return order{}, false, validation("3", "ksn must be 20 hex characters")
	case len(get("encrypted-data")) > 8192 || !reHex.MatchString(get("encrypted-data")):
		return order{}, false, validation("3", "encrypted-data must be hex, at most 8192 characters")
	case get("encrypted-type") != "" && get("encrypted-type") != "dukpt-tdes":
		return order{}, false, validation("3", "encrypted-type %q is not supported", get("encrypted-type"))
	case !slices.Contains(entryModes, get("entry_mode")):
		return order{}, false, validation("3", "entry_mode must be swipe, chip, contactless or fallback_swipe")
	case len(get("merchant_data")) > maxMerchantData:
		return order{}, false, validation("3", "merchant_data is longer than %d characters", maxMerchantData)
	}
	callbackURL := m.CallbackURL
	for _, k := range []string{"server_callback_url", "notify_url"} {
		if u := get(k); u != "" {
			if err := g.checkCallbackURL(u); err != nil {
				return order{}, false, validation("3", "%s: %v", k, err)
			}
			callbackURL = u
		}
	}
	if !strings.EqualFold(get("currency"), m.Currency) {
		return order{}, false, validation("5", "Currency %s does not match endpoint %s", strings.ToUpper(get("currency")), m.EndpointID)
	}
	now := g.now()
	if m.LockedUntil != nil && now.Before(*m.LockedUntil) {
		return order{}, false, &apiError{typ: "error", code: "9", msg: "Gate is closing: transactions are refused until Close Day finishes"}
	}
	fp := fingerprint(kind, amount, get("currency"), get("device-serial-number"), get("ksn"), get("encrypted-data"))
	var existing order
	err = g.db.Where("endpoint_id = ? AND client_order_id = ?", m.EndpointID, get("client_orderid")).First(&existing).Error
	if err == nil {
		if existing.Fingerprint == fp {
			return existing, true, nil
		}
		return order{}, false, validation("7", "Duplicate client_orderid %s with different data", get("client_orderid"))
	}
	var rd reader
	if err := g.db.Where("serial = ? AND endpoint_id = ?", get("device-serial-number"), m.EndpointID).First(&rd).Error; err != nil {
		return order{}, false, validation("6", "Unknown device serial number: %s", get("device-serial-number"))
	}
	c, err := decryptCard(rd, get("ksn"), get("encrypted-data"))
	if err != nil {
		g.log.Info("sandbox: card data refused", "serial", rd.Serial, "reason", err.Error())
		return order{}, false, validation("6", "Card data from device %s cannot be decrypted", rd.Serial)
	}
	due := now.Add(g.cfg.ProcessingDelay)
	o := order{
		EndpointID: m.EndpointID, ClientOrderID: get("client_orderid"), Kind: kind, AmountMinor: int64(amount),
		Currency: strings.ToUpper(get("currency")), Fingerprint: fp, DeviceSerial: rd.Serial, Status: "processing",
		Stage: kind + "_processing", DueAt: &due, BIN: c.bin, Last4: c.last4, CardType: c.brand, ExpMonth: c.expMonth,
		ExpYear: c.expYear, HolderName: get("card_printed_name"), Expired: c.expired(now), CallbackURL: callbackURL,
		RequestSerial: newSerial(), MerchantData: get("merchant_data"),
	}
	err = g.db.Transaction(func(tx *gorm.DB) error {
		// Gateway order ids are large numbers (the docs show 1969106); start ours there.
		var last int64
		if err := tx.Model(&order{}).Select("COALESCE(MAX(id), 1969100)").Scan(&last).Error; err != nil {
			return err
		}
		o.ID = last + 1
		if err := tx.Create(&o).Error; err != nil {
			return err
		}
		return tx.Create(&request{Serial: o.RequestSerial, OrderID: o.ID, Stage: o.Stage, Status: o.Status}).Error
	})
	if err != nil {
		if isUniqueViolation(err) { // a concurrent twin won the race: answer as its replay
			if g.db.Where("endpoint_id = ? AND client_order_id = ?", m.EndpointID, o.ClientOrderID).First(&existing).Error == nil && existing.Fingerprint == fp {
				return existing, true, nil
			}
			return order{}, false, validation("7", "Duplicate client_orderid %s with different data", o.ClientOrderID)
		}
		g.log.Error("sandbox: create order", "error", err)
		return order{}, false, &apiError{typ: "error", code: "1", msg: "Internal error"}
	}
	g.kick()
	return o, false, nil
}

// fingerprint identifies "the same request" for idempotent replay (§9): same amount, currency,
// device and card data.
func fingerprint(parts ...any) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%v\x00", p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checkCallbackURL enforces §6.1: http or https, and only the allowed ports.
func (g *Gateway) checkCallbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(raw) > 1024 {
		return fmt.Errorf("%q is not an http(s) URL", raw)
	}
	if g.cfg.AnyCallbackPort {
		return nil
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	p, _ := strconv.Atoi(port)
	if !slices.Contains(g.cfg.CallbackPorts, p) {
		return fmt.Errorf("port %s is not allowed for callbacks (allowed: %v)", port, g.cfg.CallbackPorts)
	}
	return nil
}

func isUniqueViolation(err error) bool {
	return errors.Is(err, gorm.ErrDuplicatedKey) || strings.Contains(err.Error(), "UNIQUE constraint failed")
}
