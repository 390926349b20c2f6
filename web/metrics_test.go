package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/models"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads /metrics as Prometheus does.
func (a *app) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(a.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	return fams
}

// sample is the value of the series of family name with exactly these labels ("k=v" pairs).
func sample(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	want := map[string]string{}
	for _, l := range labels {
		k, v, _ := strings.Cut(l, "=")
		want[k] = v
	}
	f := fams[name]
	if f == nil {
		t.Fatalf("/metrics has no %s", name)
	}
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("/metrics has no %s%v", name, labels)
	return 0
}

// The business metrics count each payment once, where it became final, whichever path got it
// there (the gateway's callback, a person at the counter); a callback delivered twice counts
// as a duplicate, never as a second payment. The open sockets and online readers are gauges.
func TestMetricsCountPaymentsOnceAndCallbacksByOutcome(t *testing.T) {
	a := newApp(t, true)
	get := func(u string) int { return statusOf(t, u) }
	a.addTx(t, "P1", 1042, models.KindSale, toProcessing...)
	approved := mapi.Callback{Status: "approved", OrderID: "1969106", MerchantOrder: "P1", Type: "sale", Amount: "10.42", ApprovalCode: "242805"}
	for range 2 { // at-least-once delivery
		if code := get(callbackURL(a, approved, testKey)); code != http.StatusOK {
			t.Fatalf("callback: %d", code)
		}
	}
	if code := get(callbackURL(a, approved, "not-the-key")); code != http.StatusForbidden {
		t.Fatalf("forged callback: %d", code)
	}
	a.addTx(t, "P2", 5051, models.KindPreauth, models.TxUpdate{Source: "reader", State: models.TxSending},
		models.TxUpdate{Source: "response", State: models.TxProcessing, GatewayOrderID: "1969107"})
	declined := mapi.Callback{Status: "declined", OrderID: "1969107", MerchantOrder: "P2", Type: "preauth", Amount: "50.51", ErrorCode: "51"}
	if code := get(callbackURL(a, declined, testKey)); code != http.StatusOK {
		t.Fatalf("declined callback: %d", code)
	}
	// A payment withdrawn at the counter ends without the gateway.
	staff := a.browser().login("staff", staffPW)
	waiting := a.addTx(t, "P3", 700, models.KindSale)
	if resp, _ := staff.post(fmt.Sprintf("/transactions/%d/cancel", waiting.ID), url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	// One screen open, and one reader connected and online.
	a.screen(t, staff)
	reader, _, err := a.dialDevice(a.pairReader(t))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	reader.WriteJSON(map[string]any{"type": "hello", "serial": "SBX-0001", "firmware": "2.1.0", "battery": 77})
	if m := readJSON(t, reader); m["type"] != "welcome" {
		t.Fatalf("answer to hello: %v", m)
	}

	fams := a.scrape(t)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"portal_payments_total", []string{"kind=sale", "state=approved"}, 1},
		{"portal_payments_total", []string{"kind=preauth", "state=declined"}, 1},
		{"portal_payments_total", []string{"kind=sale", "state=cancelled"}, 1},
		{"portal_payments_total", []string{"kind=refund", "state=approved"}, 0},
		{"portal_payment_amount_minor_total", []string{"kind=sale", "currency=EUR"}, 1042},
		{"portal_callbacks_total", []string{"outcome=applied"}, 2},
		{"portal_callbacks_total", []string{"outcome=duplicate"}, 1},
		{"portal_callbacks_total", []string{"outcome=forged"}, 1},
		{"portal_callbacks_total", []string{"outcome=mismatch"}, 0},
		{"portal_close_days_total", []string{"outcome=reconciled"}, 0},
		{"portal_live_sockets", []string{"kind=browser"}, 1},
		{"portal_live_sockets", []string{"kind=reader"}, 1},
		{"portal_readers_online", nil, 1},
	} {
		if got := sample(t, fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if n := len(fams["portal_payment_amount_minor_total"].GetMetric()); n != 1 {
		t.Errorf("%d approved-amount series, want 1: declined and cancelled payments have no amount", n)
	}
}
