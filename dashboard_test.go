package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// A payment taken through the whole portal, as `go run .` starts it (the counter form, a demo
// reader, the sandbox and its callback), shows in /metrics; and every metric the Grafana
// dashboard in docs/ asks for is one the portal serves, so the dashboard cannot drift from
// the code.
func TestPaymentShowsInMetricsAndTheDashboardUsesThem(t *testing.T) {
	p := startPortal(t, "-sandbox-any-callback-port", "-second-factor-optional")
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path string, form url.Values) *http.Response {
		t.Helper()
		resp, err := c.Get(p.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if m := reCSRFToken.FindSubmatch(body); m != nil {
			form.Set("csrf_token", string(m[1]))
		}
		req, _ := http.NewRequest(http.MethodPost, p.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", p.URL)
		if resp, err = c.Do(req); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post("/setup", url.Values{"username": {"admin"}, "name": {"Admin"}, "password": {"Admin-Pass-1"},
		"password2": {"Admin-Pass-1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("set-up: %d", resp.StatusCode)
	}
	// The demo readers connect once the portal listens: the form is refused (422) until the
	// first one is online.
	eventually(t, "the counter takes a sale on Counter 1", func() bool {
		resp := post("/counter", url.Values{"reader_id": {"1"}, "kind": {"sale"}, "amount": {"10.42"}})
		return resp.StatusCode == http.StatusSeeOther
	})
	var fams map[string]*dto.MetricFamily
	eventually(t, "/metrics counts the approved sale", func() bool {
		fams = scrapeMetrics(t, p.URL)
		return seriesSum(fams, "portal_payments_total", "kind", "sale", "state", "approved") == 1
	})
	if got := seriesSum(fams, "portal_payment_amount_minor_total", "kind", "sale"); got != 1042 {
		t.Errorf("approved sale amount %v minor units, want 1042", got)
	}
	if got := seriesSum(fams, "portal_readers_online"); got < 1 {
		t.Errorf("%v readers online, want the demo readers", got)
	}

	// Every metric name in the dashboard's queries is served. A histogram is exposed as its
	// _bucket, _sum and _count series.
	served := map[string]bool{}
	for name, f := range fams {
		served[name] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			served[name+"_bucket"], served[name+"_sum"], served[name+"_count"] = true, true, true
		}
	}
	b, err := os.ReadFile("docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		SchemaVersion int                     `json:"schemaVersion"`
		Inputs        []struct{ Name string } `json:"__inputs"`
		Panels        []struct {
			Title      string
			Datasource struct{ UID string }
			Targets    []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	if dash.SchemaVersion < 39 || len(dash.Inputs) != 1 || dash.Inputs[0].Name != "DS_PROMETHEUS" || len(dash.Panels) == 0 {
		t.Errorf("dashboard: schema %d, inputs %+v, %d panels; want an importable dashboard on ${DS_PROMETHEUS}",
			dash.SchemaVersion, dash.Inputs, len(dash.Panels))
	}
	metricName := regexp.MustCompile(`\bportal_[a-z0-9_]+`)
	for _, pn := range dash.Panels {
		if pn.Datasource.UID != "${DS_PROMETHEUS}" || len(pn.Targets) == 0 {
			t.Errorf("panel %q: datasource %q, %d queries", pn.Title, pn.Datasource.UID, len(pn.Targets))
		}
		for _, q := range pn.Targets {
			names := metricName.FindAllString(q.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q asks for no portal metric: %s", pn.Title, q.Expr)
			}
			for _, n := range names {
				if !served[n] {
					t.Errorf("panel %q asks for %s, which /metrics does not serve", pn.Title, n)
				}
			}
		}
	}
}

// eventually retries cond until it holds, for up to 30 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// scrapeMetrics reads the portal's /metrics as Prometheus does.
func scrapeMetrics(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
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

// seriesSum adds up the counters and gauges of family name whose labels include the given
// name, value pairs.
func seriesSum(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	var sum float64
next:
	for _, m := range fams[name].GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return sum
}
