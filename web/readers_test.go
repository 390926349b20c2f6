package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The fleet's refusals are the domain's one refusal type: a form shows its message beside the
// field, and an action without a form answers 422 with the message on the error page.
func TestReaderRefusalsAnswer422WithTheirMessage(t *testing.T) {
	a := newApp(t, true)
	admin := a.browser().login("admin", adminPW)
	admin.get("/admin/readers/new")
	resp, body := admin.post("/admin/readers", url.Values{"serial": {"SBX-0001"}, "label": {"Again"}, "endpoint_id": {"1"}})
	if got := testidText(body, "error-serial"); resp.StatusCode != http.StatusUnprocessableEntity || got != "A reader with serial SBX-0001 is already registered." {
		t.Errorf("a serial registered already: %d, beside the serial %q", resp.StatusCode, got)
	}
	if resp, _ := admin.post("/admin/readers/1/replace", url.Values{"serial": {"SBX-0009"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("replace: %d", resp.StatusCode)
	}
	before := a.snapshot()
	resp, body = admin.post("/admin/readers/1/enable", url.Values{})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-testid="error-page"`) ||
		!strings.Contains(body, "A replaced reader cannot be enabled again.") {
		t.Errorf("enable a replaced reader: %d, want 422 with the refusal on the error page", resp.StatusCode)
	}
	if a.snapshot() != before {
		t.Error("a refused enable changed something")
	}
	// The fleet service audited the replace with the person and where they came from, and
	// neither refusal.
	if es := a.audited("reader.replace"); len(es) != 1 || es[0].ActorName != "admin" || es[0].ActorID == 0 || es[0].RemoteIP == "" || es[0].Subject != "SBX-0009" {
		t.Errorf("replace audit: %+v", es)
	}
	if es := a.audited("reader.enable"); len(es) != 0 {
		t.Errorf("a refused enable was audited: %+v", es)
	}
}
