package gate

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// Limiter counts credential failures per client and alias, so that a client
// guessing passcodes gets 429 after a few tries. It keys on the pair, never
// on the alias alone: an attacker can slow down only himself, not lock real
// viewers out.
//
// Its memory is fixed when it is made: a table of 16-byte slots in buckets
// of eight, two slots per client of capacity. When a bucket is full the
// oldest record in it makes room, so a flood of distinct clients costs no
// more memory, only forgetting of the stalest.
type Limiter struct {
	buckets [][bucketSlots]limiterSlot
	mask    uint64
	locks   [limiterStripes]sync.Mutex
	limit   uint32
	window  time.Duration
	seed    maphash.Seed
}

const (
	bucketSlots    = 8
	limiterStripes = 256

	// Defaults of the brute-force protection.
	DefaultFailureLimit    = 10
	DefaultFailureWindow   = time.Minute
	DefaultLimiterCapacity = 100_000
)

type limiterSlot struct {
	key   uint64
	count uint32
	// start is the Unix second the client's window opened.
	start uint32
}

// NewLimiter returns a limiter that allows limit failures per window for
// each of about capacity clients.
func NewLimiter(limit int, window time.Duration, capacity int) *Limiter {
	n := uint64(1)
	for n*bucketSlots < uint64(capacity)*2 {
		n <<= 1
	}
	return &Limiter{
		buckets: make([][bucketSlots]limiterSlot, n),
		mask:    n - 1,
		limit:   uint32(limit),
		window:  window,
		seed:    maphash.MakeSeed(),
	}
}

func (l *Limiter) key(client, aliasID string) uint64 {
	var h maphash.Hash
	h.SetSeed(l.seed)
	// An IPv6 client usually holds a whole /64: counting its addresses
	// apart would give it 2^64 times the guesses.
	if ip, err := netip.ParseAddr(client); err == nil && ip.Is6() && !ip.Is4In6() {
		b := ip.As16()
		h.Write(b[:8])
	} else {
		h.WriteString(client)
	}
	h.WriteByte(0)
	h.WriteString(aliasID)
	if k := h.Sum64(); k != 0 {
		return k
	}
	return 1 // 0 marks a free slot
}

// Blocked reports whether the client has used up its failures on the alias
// at now, and how long until it may try again. The caller passes the time
// it already read: clock reads are not free on every request.
func (l *Limiter) Blocked(client, aliasID string, now time.Time) (retryAfter time.Duration, blocked bool) {
	k := l.key(client, aliasID)
	b := k & l.mask
	mu := &l.locks[b%limiterStripes]
	mu.Lock()
	defer mu.Unlock()
	for i := range l.buckets[b] {
		s := &l.buckets[b][i]
		if s.key != k {
			continue
		}
		end := time.Unix(int64(s.start), 0).Add(l.window)
		if s.count >= l.limit && now.Before(end) {
			return end.Sub(now), true
		}
		return 0, false
	}
	return 0, false
}

// Fail records a failed credential of the client on the alias at now.
func (l *Limiter) Fail(client, aliasID string, now time.Time) {
	k := l.key(client, aliasID)
	nowSec := uint32(now.Unix())
	windowSec := uint32(l.window / time.Second)
	b := k & l.mask
	mu := &l.locks[b%limiterStripes]
	mu.Lock()
	defer mu.Unlock()
	bucket := &l.buckets[b]
	victim := 0
	for i := range bucket {
		s := &bucket[i]
		if s.key == k {
			if nowSec-s.start >= windowSec {
				s.start, s.count = nowSec, 0
			}
			s.count++
			return
		}
		if s.key == 0 || bucket[victim].key != 0 && s.start < bucket[victim].start {
			victim = i
		}
	}
	bucket[victim] = limiterSlot{key: k, count: 1, start: nowSec}
}
