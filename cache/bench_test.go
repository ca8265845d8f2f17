package cache

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// benchCache returns a cache holding one value per key, ready to be hit.
func benchCache[V any](b *testing.B, maxEntries int64, keys []string, load Loader[V]) *Cache[V] {
	b.Helper()
	c, err := New(Config{MaxEntries: maxEntries, TTL: time.Hour}, load, Options[V]{NotFound: errNotFound})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	ctx := context.Background()
	for i, k := range keys {
		if _, err := c.Get(ctx, k); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			c.Wait() // keeps ristretto's Set buffer from overflowing and dropping
		}
	}
	c.Wait()
	return c
}

func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("a%011d", i) // 12 characters, like an alias ID
	}
	return keys
}

func BenchmarkGetHit(b *testing.B) {
	keys := benchKeys(1)
	c := benchCache(b, 1000, keys, func(_ context.Context, key string) (benchAlias, error) {
		return newBenchAlias(key), nil
	})
	ctx, key := context.Background(), keys[0]
	loads := c.Stats().Loads
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := c.Get(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if got := c.Stats().Loads; got != loads {
		b.Fatalf("%d loads during the benchmark, want none", got-loads)
	}
}

// BenchmarkGetHitParallel runs hits from every core, on one key (a popular
// live stream) and spread over many.
func BenchmarkGetHitParallel(b *testing.B) {
	for _, n := range []int{1, 1024} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			keys := benchKeys(n)
			c := benchCache(b, 10_000, keys, func(_ context.Context, key string) (benchAlias, error) {
				return newBenchAlias(key), nil
			})
			loads := c.Stats().Loads
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for i := 0; pb.Next(); i++ {
					if _, err := c.Get(ctx, keys[i%len(keys)]); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			if got := c.Stats().Loads; got != loads {
				b.Fatalf("%d loads during the benchmark, want none", got-loads)
			}
		})
	}
}

// benchAlias has the field types of alias.Alias, which this package
// does not import.
type benchAlias struct {
	ID, OrgID, Type, Name, Passcode, JWTSecret, StreamKey string
	ExpiredAt, InsertedAt, UpdatedAt                      time.Time
	Version                                               int64
}

// newBenchAlias builds every string afresh, as a row scan does, so that no
// two aliases share their bytes.
func newBenchAlias(id string) benchAlias {
	now := time.Now()
	return benchAlias{
		ID:         freshString(12, id),
		OrgID:      freshString(20, id),
		Type:       freshString(4, "live"),
		Name:       freshString(20, id),
		Passcode:   freshString(12, id),
		JWTSecret:  freshString(32, id),
		StreamKey:  freshString(20, id),
		ExpiredAt:  now.Add(24 * time.Hour),
		InsertedAt: now,
		UpdatedAt:  now,
		Version:    1,
	}
}

// freshString returns a new string of n bytes ending in (the end of) tag.
func freshString(n int, tag string) string {
	b := make([]byte, n)
	for j := range b {
		b[j] = 'x'
	}
	copy(b[max(n-len(tag), 0):], tag[max(len(tag)-n, 0):])
	return string(b)
}

// BenchmarkMemoryPerAlias reports the heap a full cache of aliases costs
// per alias, ristretto's bookkeeping and the fixed part (counters, buffers)
// included: bytes/alias from HeapInuse (what the process holds, fragmentation
// included), alloc-bytes/alias from HeapAlloc (live objects only).
func BenchmarkMemoryPerAlias(b *testing.B) {
	const n = 100_000
	keys := benchKeys(n) // made before measuring: the gateway's keys are request paths
	var inuse, alloc float64
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)

		c, err := New(Config{MaxEntries: n, TTL: time.Hour}, func(_ context.Context, key string) (benchAlias, error) {
			return newBenchAlias(key), nil
		}, Options[benchAlias]{NotFound: errNotFound})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		for i, k := range keys {
			if _, err := c.Get(ctx, k); err != nil {
				b.Fatal(err)
			}
			if i%1000 == 999 {
				c.Wait()
			}
		}
		c.Wait()

		runtime.GC()
		runtime.ReadMemStats(&after)
		held := 0
		for _, k := range keys {
			if _, ok := c.values.Get(k); ok {
				held++
			}
		}
		if held < n*99/100 {
			b.Fatalf("cache holds %d of %d aliases", held, n)
		}
		inuse += float64(after.HeapInuse-before.HeapInuse) / float64(held)
		alloc += float64(after.HeapAlloc-before.HeapAlloc) / float64(held)
		c.Close()
	}
	b.ReportMetric(inuse/float64(b.N), "bytes/alias")
	b.ReportMetric(alloc/float64(b.N), "alloc-bytes/alias")
}
