package web_test

import (
	"context"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/example/mposportal/models"
)

var rePagerLink = regexp.MustCompile(`<a class="btn" rel="(prev|next)" href="([^"]*)" data-testid="page-(newer|older)"`)

// pagerLinks are the Newer and Older links of a list page, "" when absent. It fails the test
// when a link sits outside the pager nav or carries the wrong rel.
func pagerLinks(t *testing.T, body string) (newer, older string) {
	t.Helper()
	for _, m := range rePagerLink.FindAllStringSubmatch(body, -1) {
		switch {
		case m[3] == "newer" && m[1] == "prev":
			newer = html.UnescapeString(m[2])
		case m[3] == "older" && m[1] == "next":
			older = html.UnescapeString(m[2])
		default:
			t.Errorf("pager link %q has rel=%q", m[3], m[1])
		}
	}
	if (newer != "" || older != "") && !regexp.MustCompile(`<nav class="pager" aria-label="Pages"`).MatchString(body) {
		t.Error("pager links outside a nav labelled Pages")
	}
	return newer, older
}

// rowKeys lists what row matches on a page, in order.
func rowKeys(body string, row *regexp.Regexp) []string {
	var out []string
	for _, m := range row.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// checkLink checks a pager link goes to path with cursor set, the other cursor dropped, and
// every filter in keep as it was.
func checkLink(t *testing.T, link, path, cursor string, keep url.Values) {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatalf("link %q: %v", link, err)
	}
	q := u.Query()
	other := map[string]string{"before": "after", "after": "before"}[cursor]
	if u.Path != path || q.Get(cursor) == "" || q.Has(other) {
		t.Errorf("link %q: want %s with %s and without %s", link, path, cursor, other)
	}
	for k := range keep {
		if q.Get(k) != keep.Get(k) {
			t.Errorf("link %q: %s=%q, want %q", link, k, q.Get(k), keep.Get(k))
		}
	}
	for k, vs := range q {
		if k != cursor && keep.Get(k) == "" {
			t.Errorf("link %q carries %s=%v, which the list was not asked for", link, k, vs)
		}
	}
}

// checkPaging walks a list of more than one page and less than two: want is every row the
// filter keeps, newest first. The first page shows the newest PageSize rows and only an Older
// link; Older shows the rest and only a Newer link; Newer shows the first page again. Every link
// keeps the filters in keep. It returns the first and second pages.
func checkPaging(t *testing.T, b *browser, path string, keep url.Values, row *regexp.Regexp, want []string) (first, second string) {
	t.Helper()
	n := models.PageSize
	if len(want) <= n || len(want) >= 2*n {
		t.Fatalf("%d rows seeded for %s: want between one and two pages", len(want), path)
	}
	start := path
	if len(keep) > 0 {
		start += "?" + keep.Encode() + "&empty=" // a filter form sends its empty fields too
	}
	_, first = b.get(start)
	if got := rowKeys(first, row); !slices.Equal(got, want[:n]) {
		t.Fatalf("%s first page: %v, want %v", start, got, want[:n])
	}
	newer, older := pagerLinks(t, first)
	if newer != "" || older == "" {
		t.Fatalf("%s first page links newer %q older %q, want an Older link only", start, newer, older)
	}
	checkLink(t, older, path, "before", keep)

	_, second = b.get(older)
	if got := rowKeys(second, row); !slices.Equal(got, want[n:]) {
		t.Fatalf("%s older page: %v, want %v", older, got, want[n:])
	}
	newer, older2 := pagerLinks(t, second)
	if newer == "" || older2 != "" {
		t.Fatalf("%s older page links newer %q older %q, want a Newer link only", older, newer, older2)
	}
	checkLink(t, newer, path, "after", keep)

	_, back := b.get(newer)
	if got := rowKeys(back, row); !slices.Equal(got, want[:n]) {
		t.Fatalf("%s newer page: %v, want the first page %v", newer, got, want[:n])
	}
	if n2, o2 := pagerLinks(t, back); n2 != "" || o2 != older {
		t.Errorf("%s: links newer %q older %q, want the first page's (older %q)", newer, n2, o2, older)
	}
	return first, second
}

// seeded names count rows prefix001, prefix002, … and lists them newest first.
func seeded(prefix string, count int) (names, newestFirst []string) {
	for i := 1; i <= count; i++ {
		names = append(names, fmt.Sprintf("%s%03d", prefix, i))
	}
	newestFirst = slices.Clone(names)
	slices.Reverse(newestFirst)
	return names, newestFirst
}

func TestTransactionsPages(t *testing.T) {
	a := newApp(t, true)
	names, want := seeded("PG", models.PageSize+3)
	// A reader waits for one card at a time, so the payments are seeded finished.
	finished := func(state models.TxState, i int) []models.TxUpdate {
		return []models.TxUpdate{{Source: "reader", State: models.TxSending}, {Source: "response", State: models.TxProcessing, GatewayOrderID: strconv.Itoa(9000 + i)},
			{Source: "callback", State: state}}
	}
	for i, id := range names {
		a.addTx(t, id, 100, models.KindSale, finished(models.TxApproved, i)...)
		if i%10 == 0 { // a payment the filter leaves out between the ones it keeps
			a.addTx(t, "PX"+strconv.Itoa(i), 100, models.KindSale, finished(models.TxDeclined, 500+i)...)
		}
	}
	staff := a.browser().login("staff", staffPW)
	first, second := checkPaging(t, staff, "/transactions", url.Values{"status": {"approved"}, "kind": {"sale"}},
		regexp.MustCompile(`data-testid="tx-(P[GX]\d+)"`), want)
	// New payments are pushed into the newest page only; rows of any page still update.
	if !regexp.MustCompile(`ws-connect="/ws\?topics=tx-rows%2Ctx-new"`).MatchString(first) {
		t.Error("the newest page does not take new payments live")
	}
	if !regexp.MustCompile(`ws-connect="/ws\?topics=tx-rows"`).MatchString(second) {
		t.Error("an older page does not subscribe to updates of its rows, or takes new payments")
	}
}

func TestUsersPages(t *testing.T) {
	a := newApp(t, true)
	names, want := seeded("pg", models.PageSize+5)
	users := &models.Users{DB: a.db}
	for _, n := range names {
		if err := users.Create(context.Background(), &models.User{Username: n, Name: n, Role: models.RoleStaff, PasswordHash: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	want = append(want, "staff", "admin") // created first, by newApp
	admin := a.browser().login("admin", adminPW)
	checkPaging(t, admin, "/admin/users", nil, regexp.MustCompile(`<tr id="user-\d+" data-testid="user-([a-z0-9]+)"`), want)
}

func TestReadersPages(t *testing.T) {
	a := newApp(t, true)
	names, want := seeded("PG-", models.PageSize+1)
	readers := &models.Readers{DB: a.db}
	for i, n := range names {
		if err := readers.Create(context.Background(), &models.Reader{Serial: n, Label: "Till " + n, Location: "Hall", EndpointID: 1, Enabled: true}, "test"); err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			if err := readers.Create(context.Background(), &models.Reader{Serial: "BAR-" + n, Label: "Bar", Location: "Bar", EndpointID: 1, Enabled: true}, "test"); err != nil {
				t.Fatal(err)
			}
		}
	}
	admin := a.browser().login("admin", adminPW)
	checkPaging(t, admin, "/admin/readers", url.Values{"location": {"Hall"}, "enabled": {"1"}},
		regexp.MustCompile(`data-testid="reader-([A-Z]+-[^"]+)"`), want)
}

func TestCallbacksPages(t *testing.T) {
	a := newApp(t, true)
	names, want := seeded("PG", models.PageSize+2)
	log := &models.Callbacks{DB: a.db}
	for i, n := range names {
		if err := log.Record(context.Background(), models.CallbackDelivery{ClientOrderID: n, Outcome: "applied", HTTPStatus: 200}); err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			if err := log.Record(context.Background(), models.CallbackDelivery{ClientOrderID: "PX" + n, Outcome: "forged", HTTPStatus: 403}); err != nil {
				t.Fatal(err)
			}
		}
	}
	admin := a.browser().login("admin", adminPW)
	checkPaging(t, admin, "/admin/callbacks", url.Values{"outcome": {"applied"}},
		regexp.MustCompile(`<td data-label="Order">([^<]+)</td>`), want)
}

func TestCloseHistoryPages(t *testing.T) {
	a := newApp(t, true)
	var want []string
	for i := 1; i <= models.PageSize+4; i++ {
		c := a.addClose(t, models.CloseDay{RequestID: fmt.Sprintf("R-%03d", i), State: models.CloseFinished, DaysFrom: "2026-11-24", DaysTo: "2026-11-24"})
		want = append([]string{strconv.FormatUint(uint64(c.ID), 10)}, want...)
		if i%6 == 0 {
			a.addClose(t, models.CloseDay{RequestID: fmt.Sprintf("F-%03d", i), State: models.CloseFailed, Error: "refused"})
		}
	}
	admin := a.browser().login("admin", adminPW)
	checkPaging(t, admin, "/admin/closeday/history", url.Values{"state": {string(models.CloseFinished)}},
		regexp.MustCompile(`data-testid="close-row-(\d+)"`), want)
}

func TestAuditPages(t *testing.T) {
	a := newApp(t, true)
	names, want := seeded("pg", models.PageSize+9)
	audit := &models.Audit{DB: a.db}
	for i, n := range names {
		if err := audit.Record(context.Background(), models.AuditEvent{ActorName: "tester", Action: "test.page", Subject: n}); err != nil {
			t.Fatal(err)
		}
		if i%4 == 0 {
			if err := audit.Record(context.Background(), models.AuditEvent{ActorName: "tester", Action: "test.other", Subject: "x" + n}); err != nil {
				t.Fatal(err)
			}
		}
	}
	admin := a.browser().login("admin", adminPW)
	checkPaging(t, admin, "/admin/audit", url.Values{"action": {"test.page"}, "actor": {"tester"}},
		regexp.MustCompile(`<td data-label="Subject" class="wrap subject">([^<]+)</td>`), want)
}
