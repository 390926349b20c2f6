package models_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
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
// channel and only there.
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
		send             *models.NotifyChannel
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	var insts []*instance
	for range 2 {
		in := &instance{n: models.NewNotify(db, base, log), changes: newInbox(), readers: newInbox()}
		in.send = in.n.Channel(changes, in.changes.receive)
		in.n.Channel(relay, in.readers.receive)
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
	for i, in := range insts {
		for deadline := time.Now().Add(5 * time.Second); !in.changes.has("tx:42"); {
			if time.Now().After(deadline) {
				t.Fatalf("instance %d never heard tx:42", i)
			}
			select {
			case <-in.changes.seen:
			case <-time.After(100 * time.Millisecond):
			}
		}
		in.readers.mu.Lock()
		if len(in.readers.got) != 0 {
			t.Errorf("instance %d heard %q on the readers' channel", i, in.readers.got)
		}
		in.readers.mu.Unlock()
	}
}
