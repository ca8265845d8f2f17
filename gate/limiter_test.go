package gate

import (
	"runtime"
	"strconv"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := NewLimiter(3, time.Minute, 1000)
	for i := range 3 {
		if _, blocked := l.Blocked("203.0.113.7", "alias1", now); blocked {
			t.Fatalf("blocked after %d failures, limit 3", i)
		}
		l.Fail("203.0.113.7", "alias1", now)
	}
	retry, blocked := l.Blocked("203.0.113.7", "alias1", now)
	if !blocked || retry <= 0 || retry > time.Minute {
		t.Fatalf("after 3 failures: blocked %v, retry %v", blocked, retry)
	}
	if _, blocked := l.Blocked("203.0.113.8", "alias1", now); blocked {
		t.Fatal("another client of the same alias is blocked: an attacker could lock viewers out")
	}
	if _, blocked := l.Blocked("203.0.113.7", "alias2", now); blocked {
		t.Fatal("the same client is blocked on another alias")
	}
	now = now.Add(time.Minute)
	if _, blocked := l.Blocked("203.0.113.7", "alias1", now); blocked {
		t.Fatal("still blocked after the window")
	}
	l.Fail("203.0.113.7", "alias1", now)
	if _, blocked := l.Blocked("203.0.113.7", "alias1", now); blocked {
		t.Fatal("a failure after the window counted the old ones too")
	}
}

func TestLimiterForgetsTheStalestWhenFull(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := NewLimiter(1, time.Hour, 8)
	l.Fail("attacker", "alias1", now)
	for i := range 10_000 {
		now = now.Add(time.Millisecond)
		l.Fail("flood-"+strconv.Itoa(i), "alias1", now)
	}
	if len(l.buckets)*bucketSlots > 16 {
		t.Fatalf("the table grew to %d slots for a capacity of 8", len(l.buckets)*bucketSlots)
	}
	if _, blocked := l.Blocked("flood-9999", "alias1", now); !blocked {
		t.Fatal("the most recent failing client was forgotten")
	}
}

// BenchmarkLimiterMillionClients fails one million distinct clients and
// reports the heap the failure table holds for them.
func BenchmarkLimiterMillionClients(b *testing.B) {
	const clients = 1_000_000
	ips := make([]string, clients)
	for i := range ips {
		ips[i] = "10." + strconv.Itoa(i>>16&255) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255)
	}
	var before, after runtime.MemStats
	now := time.Now()
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&before)
		l := NewLimiter(DefaultFailureLimit, DefaultFailureWindow, clients)
		for _, ip := range ips {
			l.Fail(ip, "abcdefghijkl", now)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(l)
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB/1M-clients")
}

func BenchmarkLimiterBlocked(b *testing.B) {
	l := NewLimiter(DefaultFailureLimit, DefaultFailureWindow, DefaultLimiterCapacity)
	now := time.Now()
	l.Fail("203.0.113.7", "abcdefghijkl", now)
	b.ReportAllocs()
	for b.Loop() {
		l.Blocked("203.0.113.7", "abcdefghijkl", now)
	}
}

func TestLimiterCountsAnIPv6NetworkAsOneClient(t *testing.T) {
	l := NewLimiter(2, time.Minute, 100)
	now := time.Now()
	l.Fail("2001:db8:1:2::1", "alias1", now)
	l.Fail("2001:db8:1:2:ffff::9", "alias1", now)
	if _, blocked := l.Blocked("2001:db8:1:2::77", "alias1", now); !blocked {
		t.Fatal("addresses of one /64 guessed as separate clients")
	}
	if _, blocked := l.Blocked("2001:db8:1:3::1", "alias1", now); blocked {
		t.Fatal("another /64 is blocked")
	}
}
