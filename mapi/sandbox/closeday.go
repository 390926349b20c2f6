package sandbox

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/example/mposportal/mapi"
	"gorm.io/gorm"
)

var reCloseRequestID = regexp.MustCompile(`^[A-Za-z0-9]{8,32}$`)

// closeDayHandler handles POST /paynet/api/v2/close-day/{ENDPOINTID} (§5).
func (g *Gateway) closeDayHandler(w http.ResponseWriter, r *http.Request) {
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
	if g.takeCloseDayDrop() {
		http.Error(w, "bad gateway", http.StatusBadGateway) // lost on the way: nothing closed
		return
	}
	if g.takeCloseDayRefusal() {
		writeError(w, errCloseAPINotAllowed(), "")
		return
	}
	body, aerr := g.closeDay(m, f)
	if aerr != nil {
		writeError(w, aerr, "")
		return
	}
	if g.takeCloseDay5xx() {
		http.Error(w, "bad gateway", http.StatusBadGateway) // closed; the client never hears so
		return
	}
	w.Header().Set("Content-Type", "text/html;charset=utf-8")
	w.Write(body)
}

// errCloseAPINotAllowed is the answer of a gate where closing via the API is off (§8 code 10).
func errCloseAPINotAllowed() *apiError {
	return validation("10", "Close day via API is not allowed on this gate")
}

// closeDay closes the gate's business day: totals of approved sales and captures, and of
// approved returns, since the previous close, reconciled against the CP's totals when sent.
// The request id is the idempotency key: a repeat returns the stored bytes and closes nothing
// new.
func (g *Gateway) closeDay(m merchant, f map[string][]string) ([]byte, *apiError) {
	get := func(k string) string {
		if v := f[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	id := get("day_close_request_id")
	switch {
	case id == "":
		return nil, validation("2", "Missing mandatory parameter: day_close_request_id")
	case !reCloseRequestID.MatchString(id):
		return nil, validation("3", "day_close_request_id must be 8 to 32 letters or digits")
	case !m.AllowCloseAPI:
		return nil, errCloseAPINotAllowed()
	}
	theirs, aerr := cpTotals(get, m.Currency)
	if aerr != nil {
		return nil, aerr
	}
	var out []byte
	err := g.db.Transaction(func(tx *gorm.DB) error {
		var prev closeDay
		if err := tx.Where("endpoint_id = ? AND request_id = ?", m.EndpointID, id).First(&prev).Error; err == nil {
			out = []byte(prev.Response)
			return nil
		} else if !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		var cur merchant
		if err := tx.Where("endpoint_id = ?", m.EndpointID).First(&cur).Error; err != nil {
			return err
		}
		now := g.now()
		sales, err := openTotals(tx, &order{}, m.EndpointID, "sale")
		if err != nil {
			return err
		}
		captures, err := openTotals(tx, &operation{}, m.EndpointID, "capture")
		if err != nil {
			return err
		}
		reversals, err := openTotals(tx, &operation{}, m.EndpointID, "reversal")
		if err != nil {
			return err
		}
		cur.RRNSeq++
		// A captured preauth is a sale of the captured amount; a refund and a release are
		// reversals (Decision 7, §13.4).
		c := closeDay{EndpointID: m.EndpointID, RequestID: id, SaleCount: sales.N + captures.N, SaleSum: sales.Sum + captures.Sum,
			ReversalCount: reversals.N, ReversalSum: reversals.Sum, RRN: fmt.Sprintf("%06d", cur.RRNSeq), Code39: "00"}
		if theirs != nil && (theirs.SaleCount != c.SaleCount || int64(theirs.SaleSum) != c.SaleSum ||
			theirs.ReversalCount != c.ReversalCount || int64(theirs.ReversalSum) != c.ReversalSum) {
			c.Code39 = "95" // reconcile error: the day still closes
		}
		locked := g.cfg.CloseDuration > 0
		if locked {
			until := now.Add(g.cfg.CloseDuration)
			cur.LockedUntil = &until
		}
		c.Response = string(mapi.EncodeResponse([]mapi.Pair{
			{Key: "status", Value: "finished"}, {Key: "gateId", Value: strconv.FormatInt(cur.GateID, 10)},
			{Key: "isDayClosing", Value: strconv.FormatBool(locked)}, {Key: "gateCloseDate", Value: now.UTC().Format("2006-01-02")},
			{Key: "epntId", Value: strconv.FormatInt(cur.EpntID, 10)}, {Key: "saleApprovedCount", Value: strconv.Itoa(c.SaleCount)},
			{Key: "saleAmount", Value: mapi.Amount(c.SaleSum).Format(cur.Currency)}, {Key: "reversalApprovedCount", Value: strconv.Itoa(c.ReversalCount)},
			{Key: "reversalAmount", Value: mapi.Amount(c.ReversalSum).Format(cur.Currency)},
			{Key: "code39", Value: c.Code39}, {Key: "RRN", Value: c.RRN}, {Key: "theRequestSerialNumber", Value: newSerial()},
		}))
		if err := tx.Create(&c).Error; err != nil {
			return err
		}
		if err := tx.Model(&order{}).Where(openApproved, m.EndpointID, []string{"sale"}).Update("close_id", c.ID).Error; err != nil {
			return err
		}
		if err := tx.Model(&operation{}).Where(openApproved, m.EndpointID, []string{"capture", "reversal"}).Update("close_id", c.ID).Error; err != nil {
			return err
		}
		out = []byte(c.Response)
		return tx.Save(&cur).Error
	})
	if err != nil {
		g.log.Error("sandbox: close day", "endpoint", m.EndpointID, "error", err)
		return nil, &apiError{typ: "error", code: "1", msg: "Internal error"}
	}
	return out, nil
}

// openApproved selects the approved transactions of an endpoint, of the given kinds, that no
// close has counted yet; orders and operations share the columns.
const openApproved = "endpoint_id = ? AND kind IN ? AND status = 'approved' AND close_id IS NULL"

// totals is a count and a sum in minor units.
type totals struct {
	N   int
	Sum int64
}

// openTotals counts and sums the open approved transactions of one kind in table (an order or
// an operation).
func openTotals(tx *gorm.DB, table any, endpointID, kind string) (totals, error) {
	var t totals
	err := tx.Model(table).Where(openApproved, endpointID, []string{kind}).
		Select("COUNT(*) AS n, COALESCE(SUM(amount_minor), 0) AS sum").Scan(&t).Error
	return t, err
}

// cpTotals reads the CP's optional totals; nil when none were sent.
func cpTotals(get func(string) string, currency string) (*mapi.CloseDayTotals, *apiError) {
	names := []string{"sale_approved_count", "sale_approved_sum", "reversal_approved_count", "reversal_approved_sum"}
	sent := false
	for _, n := range names {
		sent = sent || get(n) != ""
	}
	if !sent {
		return nil, nil
	}
	var t mapi.CloseDayTotals
	var err error
	count := func(s string) int {
		if s == "" || err != nil {
			return 0
		}
		n, e := strconv.Atoi(s)
		if e != nil || n < 0 {
			err = fmt.Errorf("bad count %q", s)
		}
		return n
	}
	sum := func(s string) mapi.Amount {
		if s == "" || err != nil {
			return 0
		}
		a, e := mapi.ParseAmount(s, currency)
		if e != nil {
			err = e
		}
		return a
	}
	t.SaleCount, t.SaleSum = count(get(names[0])), sum(get(names[1]))
	t.ReversalCount, t.ReversalSum = count(get(names[2])), sum(get(names[3]))
	if err != nil {
		return nil, validation("3", "Close day totals: %v", err)
	}
	return &t, nil
}
