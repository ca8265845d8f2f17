package cache

import (
	"testing"
	"time"
)

// TestLen counts what the cache holds: values and "not found" answers
// apart, one less after an invalidation, none after a flush.
func TestLen(t *testing.T) {
	s := newStore()
	s.put("a", value{V: "1"})
	s.put("b", value{V: "2"})
	c := newTestCache(t, Config{}, s, nil)
	wantLen := func(what string, values, notFound int64) {
		t.Helper()
		c.Wait()
		if v, n := c.Len(); v != values || n != notFound {
			t.Errorf("%s: Len() = %d values, %d not found; want %d, %d", what, v, n, values, notFound)
		}
	}
	wantLen("empty", 0, 0)
	for _, key := range []string{"a", "b", "nope"} {
		c.Get(t.Context(), key)
	}
	wantLen("after loading two values and one unknown key", 2, 1)
	c.Invalidate("a")
	wantLen("after invalidating one value", 1, 1)
	c.Flush()
	wantLen("after a flush", 0, 0)
	c.Close()
	wantLen("closed", 0, 0)
}

// TestConfigDefaults: Config tells the defaults a zero field took, and a
// negative MaxStale as zero.
func TestConfigDefaults(t *testing.T) {
	c := newTestCache(t, Config{}, newStore(), nil)
	if got := c.Config().MaxStale; got != defaultMaxStale {
		t.Errorf("MaxStale of a zero Config = %v, want the default %v", got, defaultMaxStale)
	}
	c = newTestCache(t, Config{MaxStale: -time.Second}, newStore(), nil)
	if got := c.Config().MaxStale; got != 0 {
		t.Errorf("MaxStale of a negative Config = %v, want 0 (never stale)", got)
	}
}
