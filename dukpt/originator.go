package dukpt

import (
	"errors"
	"math/bits"
	"sync"
)

// ErrExhausted is returned when a device has used every counter value: it needs a new key.
var ErrExhausted = errors.New("dukpt: transaction counter exhausted")

// Originator is the reader side: it holds the device's initial key and hands out a fresh KSN
// and transaction key per transaction. Counters with more than ten one-bits are skipped, as
// the standard's originating algorithm never uses them.
type Originator struct {
	mu   sync.Mutex
	ipek []byte
	ksn  KSN
}

// NewOriginator starts after the counter in ksn (pass the initial KSN for a new device).
func NewOriginator(ipek []byte, ksn KSN) *Originator {
	return &Originator{ipek: append([]byte(nil), ipek...), ksn: ksn}
}

// Next advances the counter and returns the new KSN with its transaction key.
func (o *Originator) Next() (KSN, []byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.ksn.Counter()
	for {
		c++
		if c > counterMask {
			return KSN{}, nil, ErrExhausted
		}
		if bits.OnesCount32(c) <= 10 {
			break
		}
	}
	o.ksn = o.ksn.WithCounter(c)
	key, err := DeriveKey(o.ipek, o.ksn)
	if err != nil {
		return KSN{}, nil, err
	}
	return o.ksn, key, nil
}
