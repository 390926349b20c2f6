package live_test

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/example/mposportal/live"
)

func TestTopicsRoundTrip(t *testing.T) {
	for _, c := range []struct {
		topic live.Topic
		wire  string
	}{
		{live.Readers, "readers"},
		{live.ReaderChoices, "reader-choices"},
		{live.PaymentRows, "tx-rows"},
		{live.NewPayments, "tx-new"},
		{live.Closes, "closes"},
		{live.PaymentTopic(12), "tx:12"},
		{live.CloseTopic(3), "close:3"},
		{live.PaymentTopic(4294967295), "tx:4294967295"},
	} {
		if got := c.topic.String(); got != c.wire {
			t.Errorf("%v.String() = %q, want %q", c.topic, got, c.wire)
		}
		got, ok := live.ParseTopic(c.wire)
		if !ok || got != c.topic {
			t.Errorf("ParseTopic(%q) = %v, %v; want %v", c.wire, got, ok, c.topic)
		}
	}
	if got := (live.Topic{}).String(); got != "" {
		t.Errorf("the zero topic is %q", got)
	}
}

func TestParseTopicRefusesJunk(t *testing.T) {
	for _, s := range []string{
		"", "tx", "close", "reader", "tx:", "tx:0", "tx:012", "tx:-1", "tx:+1", "tx: 1", "tx:1 ", "tx:1x",
		"tx:4294967296", "tx:99999999999999999999", "reader:1", "readers:1", "tx-rows:1", "Readers", "READERS",
		"readers ", " readers", "tx::1", "tx:1:2", "close:0", "payment:1", "<script>", "tx-rows,tx-new", ":1",
	} {
		if got, ok := live.ParseTopic(s); ok {
			t.Errorf("ParseTopic(%q) = %v, want refused", s, got)
		}
	}
}

func FuzzParseTopic(f *testing.F) {
	for _, s := range []string{"readers", "tx:12", "close:3", "tx:012", "reader:1", "tx-new"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		topic, ok := live.ParseTopic(s)
		if !ok {
			return
		}
		if topic.String() != s {
			t.Errorf("ParseTopic(%q).String() = %q", s, topic.String())
		}
	})
}

func TestChangesRoundTrip(t *testing.T) {
	for _, c := range []struct {
		change live.Change
		wire   string
	}{
		{live.Change{Kind: live.Payment, ID: 42}, "tx:42"},
		{live.Change{Kind: live.Close, ID: 3}, "close:3"},
		{live.Change{Kind: live.Reader, ID: 7}, "reader:7"},
	} {
		if got := c.change.String(); got != c.wire {
			t.Errorf("%#v.String() = %q, want %q", c.change, got, c.wire)
		}
		if got, ok := live.ParseChange(c.wire); !ok || got != c.change {
			t.Errorf("ParseChange(%q) = %#v, %v", c.wire, got, ok)
		}
	}
	for _, s := range []string{"", "tx", "tx:", "tx:0", "tx:07", "dev:{}", "readers:1", "tx-rows:1", "reader:x", "kind(9):1"} {
		if got, ok := live.ParseChange(s); ok {
			t.Errorf("ParseChange(%q) = %#v, want refused", s, got)
		}
	}
}

// Staff get the counter's topics (reader choices, payments); reader administration and
// Close Day are the admins'.
func TestStaffTopics(t *testing.T) {
	for topic, want := range map[live.Topic]bool{
		live.Readers: false, live.ReaderChoices: true, live.PaymentRows: true, live.NewPayments: true,
		live.Closes: false, live.PaymentTopic(1): true, live.CloseTopic(1): false, {}: false,
	} {
		if got := topic.Staff(); got != want {
			t.Errorf("%q.Staff() = %v, want %v", topic, got, want)
		}
	}
}

func TestSubjectIsOneRowsPage(t *testing.T) {
	if s, ok := live.PaymentTopic(5).Subject(); !ok || s != (live.Change{Kind: live.Payment, ID: 5}) {
		t.Errorf("payment page's subject %v, %v", s, ok)
	}
	if s, ok := live.CloseTopic(6).Subject(); !ok || s != (live.Change{Kind: live.Close, ID: 6}) {
		t.Errorf("close page's subject %v, %v", s, ok)
	}
	for _, topic := range []live.Topic{live.Readers, live.ReaderChoices, live.PaymentRows, live.NewPayments, live.Closes} {
		if s, ok := topic.Subject(); ok {
			t.Errorf("list %q has a subject %v", topic, s)
		}
	}
}

// run runs q until render has seen stop, and returns what it rendered.
func run(t *testing.T, q *live.Queue, stop live.Change, also func(live.Change)) []live.Change {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	var got []live.Change
	q.Run(ctx, func(_ context.Context, c live.Change) {
		got = append(got, c)
		if also != nil {
			also(c)
		}
		if c == stop {
			cancel()
		}
	})
	if ctx.Err() == context.DeadlineExceeded {
		t.Fatalf("the queue rendered %v and never %v", got, stop)
	}
	return got
}

// A burst of changes to one row, queued before the renderer gets to it, is rendered once;
// different rows are rendered each, in the order they first changed.
func TestQueueRendersABurstOnce(t *testing.T) {
	q := live.NewQueue()
	pay, reader, stop := live.Change{Kind: live.Payment, ID: 1}, live.Change{Kind: live.Reader, ID: 1}, live.Change{Kind: live.Close, ID: 9}
	for range 100 {
		q.Changed(pay)
	}
	q.Changed(reader)
	for range 50 {
		q.Changed(pay)
	}
	q.Changed(stop)
	if got, want := run(t, q, stop, nil), []live.Change{pay, reader, stop}; !slices.Equal(got, want) {
		t.Errorf("rendered %v, want %v", got, want)
	}
}

// A change that comes while its row is being rendered is rendered again afterwards: the
// render may have read the row before the change.
func TestQueueRendersAChangeDuringItsRenderAgain(t *testing.T) {
	q := live.NewQueue()
	pay, stop := live.Change{Kind: live.Payment, ID: 1}, live.Change{Kind: live.Close, ID: 9}
	q.Changed(pay)
	first := true
	got := run(t, q, stop, func(c live.Change) {
		if c == pay && first {
			first = false
			q.Changed(pay)
			q.Changed(stop)
		}
	})
	if want := []live.Change{pay, pay, stop}; !slices.Equal(got, want) {
		t.Errorf("rendered %v, want %v", got, want)
	}
}

// Changes from many goroutines at once all reach the renderer.
func TestQueueTakesChangesFromEveryone(t *testing.T) {
	q := live.NewQueue()
	stop := live.Change{Kind: live.Close, ID: 1}
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			for i := range 200 {
				q.Changed(live.Change{Kind: live.Payment, ID: uint(g*200 + i + 1)})
			}
			done <- struct{}{}
		}()
	}
	go func() {
		for range 8 {
			<-done
		}
		q.Changed(stop)
	}()
	seen := map[live.Change]bool{}
	run(t, q, stop, func(c live.Change) { seen[c] = true })
	for id := uint(1); id <= 1600; id++ {
		if !seen[live.Change{Kind: live.Payment, ID: id}] {
			t.Fatalf("payment %d was never rendered", id)
		}
	}
}

// notifier records what it is told.
type notifier []live.Change

func (n *notifier) Changed(c live.Change) { *n = append(*n, c) }

// transport delivers what is posted to every instance's fanout, as PostgreSQL NOTIFY does;
// while the network is down, only to the sender's own (the Transport's promise).
type transport struct {
	net  *network
	self *live.Fanout
}

type network struct {
	to   []*live.Fanout
	down bool
}

func (tr *transport) Post(p []byte) {
	if tr.net.down {
		tr.self.Receive(p)
		return
	}
	for _, f := range tr.net.to {
		f.Receive(p)
	}
}

// With several instances a change reaches every instance's screens, the sender's too; when the
// transport fails, at least the sender's.
func TestFanoutTellsEveryInstance(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	net := &network{}
	var na, nb notifier
	a, b := &live.Fanout{Local: &na, Log: log}, &live.Fanout{Local: &nb, Log: log}
	a.Transport, b.Transport = &transport{net, a}, &transport{net, b}
	net.to = []*live.Fanout{a, b}
	c := live.Change{Kind: live.Reader, ID: 4}
	a.Changed(c)
	if !slices.Equal(na, []live.Change{c}) || !slices.Equal(nb, []live.Change{c}) {
		t.Fatalf("a heard %v, b heard %v", na, nb)
	}
	b.Receive([]byte("dev:{}"))
	if len(nb) != 1 || !strings.Contains(logs.String(), "change notification ignored") {
		t.Errorf("junk on the channel: b heard %v; log %q", nb, logs.String())
	}
	net.down = true
	c2 := live.Change{Kind: live.Payment, ID: 5}
	b.Changed(c2)
	if !slices.Equal(nb, []live.Change{c, c2}) || len(na) != 1 {
		t.Errorf("with the transport down: a heard %v, b heard %v", na, nb)
	}
}
