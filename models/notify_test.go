package models_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/models/testdb"
)

// inbox records what one channel of one instance heard.
type inbox struct {
	mu   sync.Mutex
	got  []string
	seen chan struct{}
}

func newInbox() *inbox { return &inbox{seen: make(chan struct{}, 1000)} }

func (b *inbox) receive(p []byte) {
	b.mu.Lock()
	b.got = append(b.got, string(p))
	b.mu.Unlock()
	b.seen <- struct{}{}
}

func (b *inbox) has(s string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, g := range b.got {
		if g == s {
			return true
		}
	}
	return false
}

// Two instances on one PostgreSQL database: what one forwards on a channel, both hear on that
// channel and only there; many forwarded at once (sent together) all arrive, and one that
// PostgreSQL would refuse is refused alone.
func TestNotifyReachesEveryInstance(t *testing.T) {
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		t.Skip("TEST_DATABASE_URL is not set: NOTIFY needs PostgreSQL")
	}
	db := testdb.Open(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// NOTIFY channels belong to the database, not the test's schema: names of their own.
	suffix := fmt.Sprintf("%d_%d", os.Getpid(), time.Now().UnixNano())
	changes, relay := "t_changes_"+suffix, "t_readers_"+suffix
	type instance struct {
		n                *models.Notify
		changes, readers *inbox
		send, sendReader *models.NotifyChannel
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	var insts []*instance
	for range 2 {
		in := &instance{n: models.NewNotify(db, base, log), changes: newInbox(), readers: newInbox()}
		in.send = in.n.Channel(changes, in.changes.receive)
		in.sendReader = in.n.Channel(relay, in.readers.receive)
		wg.Add(1)
		go func() { defer wg.Done(); in.n.Run(ctx) }()
		insts = append(insts, in)
	}
	// The listeners connect in the background: knock until both answer.
	for deadline := time.Now().Add(10 * time.Second); !insts[0].changes.has("knock") || !insts[1].changes.has("knock"); {
		if time.Now().After(deadline) {
			t.Fatal("the listeners never heard a knock")
		}
		if err := insts[0].send.Forward([]byte("knock")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := insts[1].send.Forward([]byte("tx:42")); err != nil {
		t.Fatal(err)
	}
	awaitAll := func(what string, box func(*instance) *inbox, want ...string) {
		t.Helper()
		for i, in := range insts {
			for _, w := range want {
				for deadline := time.Now().Add(5 * time.Second); !box(in).has(w); {
					if time.Now().After(deadline) {
						t.Fatalf("instance %d never heard %s on the %s channel", i, w, what)
					}
					select {
					case <-box(in).seen:
					case <-time.After(100 * time.Millisecond):
					}
				}
			}
		}
	}
	awaitAll("changes", func(in *instance) *inbox { return in.changes }, "tx:42")
	for i, in := range insts {
		in.readers.mu.Lock()
		if len(in.readers.got) != 0 {
			t.Errorf("instance %d heard %q on the readers' channel", i, in.readers.got)
		}
		in.readers.mu.Unlock()
	}
	// Many at once, from both instances, on both channels, with one PostgreSQL would refuse.
	var sent sync.WaitGroup
	var changesWant, readersWant []string
	for i := range 100 {
		ch, p := insts[i%2].send, fmt.Sprintf("tx:%d", 1000+i)
		if i%3 == 0 {
			ch, p = insts[i%2].sendReader, fmt.Sprintf(`{"serial":"R%d"}`, i)
			readersWant = append(readersWant, p)
		} else {
			changesWant = append(changesWant, p)
		}
		sent.Go(func() {
			if err := ch.Forward([]byte(p)); err != nil {
				t.Error(err)
			}
		})
	}
	sent.Go(func() {
		if err := insts[0].send.Forward(make([]byte, 8000)); err == nil {
			t.Error("a notice of 8000 bytes was taken")
		}
	})
	// Posted, without waiting, from both instances.
	for i := range 20 {
		p := fmt.Sprintf("tx:%d", 2000+i)
		insts[i%2].send.Post([]byte(p))
		changesWant = append(changesWant, p)
	}
	sent.Wait()
	awaitAll("changes", func(in *instance) *inbox { return in.changes }, changesWant...)
	awaitAll("readers", func(in *instance) *inbox { return in.readers }, readersWant...)
}

// Post does not wait: what is posted reaches every instance like what is forwarded, and a
// notice that cannot be sent is still heard by the instance that posted it, and logged.
func TestNotifyPostIsHeardHereWhenItCannotBeSent(t *testing.T) {
	db := testdb.Open(t)
	logs, err := os.CreateTemp(t.TempDir(), "log") // an *os.File takes writes from any goroutine
	if err != nil {
		t.Fatal(err)
	}
	n := models.NewNotify(db, "", slog.New(slog.NewTextHandler(logs, nil)))
	box := newInbox()
	ch := n.Channel("t_post", box.receive)
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.Close() // every statement now fails
	forwarded := make(chan error)
	go func() { forwarded <- ch.Forward([]byte("forwarded")) }() // may share a statement with the posts
	for i := range 3 {
		ch.Post([]byte(fmt.Sprintf("tx:%d", i+1)))
	}
	if err := <-forwarded; err == nil {
		t.Error("Forward on a closed database reported no error")
	}
	for _, w := range []string{"tx:1", "tx:2", "tx:3"} {
		for deadline := time.Now().Add(5 * time.Second); !box.has(w); {
			if time.Now().After(deadline) {
				t.Fatalf("the posting instance never heard %s", w)
			}
			select {
			case <-box.seen:
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	n.Close() // waits for the posts in flight
	if box.has("forwarded") {
		t.Error("a forwarded notice that failed was heard here too (its caller has the error)")
	}
	if logged, _ := os.ReadFile(logs.Name()); !strings.Contains(string(logged), "heard here only") {
		t.Errorf("the failure was not logged: %q", logged)
	}
}
