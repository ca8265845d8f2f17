package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

var (
	errNotFound = errors.New("not found")
	errDown     = errors.New("store down")
)

// clock is a settable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type value struct {
	V   string
	Exp time.Time
}

// store is the source of truth behind a test cache.
type store struct {
	mu   sync.Mutex
	vals map[string]value
	err  error // when set, every load fails with it
	// gate, when set, holds a load after it has read the store until it is
	// closed (or the load's ctx ends), as a slow network would.
	gate  chan struct{}
	calls atomic.Int64
}

func newStore() *store { return &store{vals: map[string]value{}} }

func (s *store) load(ctx context.Context, key string) (value, error) {
	v, gate, err := s.read(key)
	s.calls.Add(1)
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return value{}, ctx.Err()
		}
	}
	return v, err
}

func (s *store) read(key string) (value, chan struct{}, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return value{}, s.gate, fmt.Errorf("loading %q: %w", key, s.err)
	}
	v, ok := s.vals[key]
	if !ok {
		return value{}, s.gate, fmt.Errorf("alias %q: %w", key, errNotFound)
	}
	return v, s.gate, nil
}

func (s *store) put(key string, v value) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vals[key] = v
}

func (s *store) del(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.vals, key)
}

func (s *store) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *store) hold() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate = make(chan struct{})
	return s.gate
}

func validKey(k string) bool { return k != "" && !strings.ContainsAny(k, " /") }

func newTestCache(t *testing.T, cfg Config, s *store, now func() time.Time) *Cache[value] {
	t.Helper()
	c, err := New(cfg, s.load, Options[value]{
		NotFound: errNotFound,
		Expiry:   func(v value) time.Time { return v.Exp },
		ValidKey: validKey,
		Now:      now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// step changes the world, then Gets a key and checks the answer and how
// many loads it took so far.
type step struct {
	advance    time.Duration
	put        string // the store now holds this value for the key
	expiresIn  time.Duration
	del        bool // the key is deleted from the store
	down, up   bool // the store starts or stops failing
	invalidate bool
	flush      bool

	key     string // default "abc"
	want    string
	wantErr error
	loads   int64
}

func TestGet(t *testing.T) {
	defaults := Config{MaxEntries: 1000, TTL: time.Minute, NegativeTTL: 5 * time.Second, MaxStale: 5 * time.Minute}
	noStale := defaults
	noStale.MaxStale = -1
	tests := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{"hit after load", defaults, []step{
			{put: "v1", want: "v1", loads: 1},
			{want: "v1", loads: 1},
		}},
		{"invalid key is not found without a load", defaults, []step{
			{key: "no such/key", wantErr: errNotFound, loads: 0},
		}},
		{"not found is remembered for NegativeTTL", defaults, []step{
			{wantErr: errNotFound, loads: 1},
			{put: "v1", advance: 4 * time.Second, wantErr: errNotFound, loads: 1},
			{advance: time.Second, want: "v1", loads: 2},
		}},
		{"TTL expiry reloads", defaults, []step{
			{put: "v1", want: "v1", loads: 1},
			{put: "v2", advance: 59 * time.Second, want: "v1", loads: 1},
			{advance: time.Second, want: "v2", loads: 2},
			{want: "v2", loads: 2},
		}},
		{"Invalidate drops a value", defaults, []step{
			{put: "v1", want: "v1", loads: 1},
			{put: "v2", invalidate: true, want: "v2", loads: 2},
		}},
		{"Invalidate drops a not found", defaults, []step{
			{wantErr: errNotFound, loads: 1},
			{put: "v1", invalidate: true, want: "v1", loads: 2},
		}},
		{"Flush drops everything", defaults, []step{
			{put: "v1", want: "v1", loads: 1},
			{key: "gone", wantErr: errNotFound, loads: 2},
			{put: "v2", flush: true, want: "v2", loads: 3},
			{key: "gone", wantErr: errNotFound, loads: 4},
		}},
		{"Expiry clamps the TTL", defaults, []step{
			{put: "v1", expiresIn: 10 * time.Second, want: "v1", loads: 1},
			{advance: 9 * time.Second, want: "v1", loads: 1},
			// Past expiry: reloaded, returned for the caller to judge, not kept.
			{advance: time.Second, want: "v1", loads: 2},
			{want: "v1", loads: 3},
		}},
		{"stale within MaxStale while the store is down", defaults, []step{
			{put: "v1", want: "v1", loads: 1},
			{down: true, advance: 61 * time.Second, want: "v1", loads: 2},
			{want: "v1", loads: 2}, // no retry within staleRetry
			{advance: staleRetry, want: "v1", loads: 3},
			{advance: 5 * time.Minute, wantErr: errDown, loads: 4}, // past TTL+MaxStale
		}},
		{"store back after serving stale", defaults, []step{
			{put: "v1", want: "v1", loads: 1},
			{down: true, advance: 61 * time.Second, want: "v1", loads: 2},
			{up: true, put: "v2", advance: staleRetry, want: "v2", loads: 3},
		}},
		{"no stale with negative MaxStale", noStale, []step{
			{put: "v1", want: "v1", loads: 1},
			{down: true, advance: 61 * time.Second, wantErr: errDown, loads: 2},
		}},
		{"uncached key with the store down fails and is not kept", defaults, []step{
			{down: true, wantErr: errDown, loads: 1},
			{wantErr: errDown, loads: 2},
			{up: true, put: "v1", want: "v1", loads: 3},
		}},
		{"a deleted key is never served stale", defaults, []step{
			{put: "v1", want: "v1", loads: 1},
			{del: true, advance: 61 * time.Second, wantErr: errNotFound, loads: 2},
			{down: true, advance: 5 * time.Second, wantErr: errDown, loads: 3},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := newStore(), newClock()
			c := newTestCache(t, tt.cfg, s, clk.Now)
			for i, st := range tt.steps {
				key := st.key
				if key == "" {
					key = "abc"
				}
				clk.Advance(st.advance)
				switch {
				case st.put != "":
					var exp time.Time
					if st.expiresIn != 0 {
						exp = clk.Now().Add(st.expiresIn)
					}
					s.put(key, value{V: st.put, Exp: exp})
				case st.del:
					s.del(key)
				}
				if st.down {
					s.fail(errDown)
				}
				if st.up {
					s.fail(nil)
				}
				if st.invalidate {
					c.Invalidate(key)
				}
				if st.flush {
					c.Flush()
				}
				got, err := c.Get(context.Background(), key)
				c.Wait()
				if st.wantErr != nil {
					if !errors.Is(err, st.wantErr) {
						t.Fatalf("step %d: Get(%q) = %v, %v; want error %v", i, key, got, err, st.wantErr)
					}
				} else if err != nil || got.V != st.want {
					t.Fatalf("step %d: Get(%q) = %q, %v; want %q", i, key, got.V, err, st.want)
				}
				if n := s.calls.Load(); n != st.loads {
					t.Fatalf("step %d: %d loads so far, want %d", i, n, st.loads)
				}
			}
		})
	}
}

func TestStats(t *testing.T) {
	s, clk := newStore(), newClock()
	c := newTestCache(t, Config{MaxEntries: 1000}, s, clk.Now)
	ctx := context.Background()
	s.put("abc", value{V: "v1"})
	c.Get(ctx, "abc") // miss, load
	c.Wait()
	c.Get(ctx, "abc")     // hit
	c.Get(ctx, "missing") // miss, load, not found
	c.Wait()
	c.Get(ctx, "missing") // negative hit
	c.Get(ctx, "bad key") // negative hit, no load
	s.fail(errDown)
	clk.Advance(2 * time.Minute) // past TTL, within MaxStale
	c.Get(ctx, "abc")            // miss, load error, stale
	c.Invalidate("abc")
	c.Flush()

	want := Stats{Hits: 1, NegativeHits: 2, Misses: 3, Loads: 3, LoadErrors: 1, StaleServed: 1, Invalidations: 1, Flushes: 1}
	if got := c.Stats(); got != want {
		t.Errorf("Stats() = %+v\nwant      %+v", got, want)
	}
}

// A load that read the store before a change must not be cached once the
// change is announced, or the cache would serve the old value for a TTL; nor
// may a Get that starts after the announcement share that load.
func TestLoadRacingInvalidation(t *testing.T) {
	for _, tt := range []struct {
		name     string
		announce func(c *Cache[value], key string)
		// announced: the change was announced for key itself, so a Get
		// started after it must not join the load that read "old".
		announced bool
	}{
		{"Invalidate", func(c *Cache[value], key string) { c.Invalidate(key) }, true},
		{"Flush", func(c *Cache[value], _ string) { c.Flush() }, true},
		{"Invalidate of another key on the same stripe", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore()
			c := newTestCache(t, Config{MaxEntries: 1000, TTL: time.Hour}, s, nil)
			key := "abc"
			announce := tt.announce
			if announce == nil {
				other := sameStripe(c, key)
				announce = func(c *Cache[value], _ string) { c.Invalidate(other) }
			}
			s.put(key, value{V: "old"})
			gate := s.hold()

			type result struct {
				v   value
				err error
			}
			get := func() chan result {
				ch := make(chan result, 1)
				go func() {
					v, err := c.Get(context.Background(), key)
					ch <- result{v, err}
				}()
				return ch
			}
			first := get()
			waitFor(t, func() bool { return s.calls.Load() == 1 }) // the load has read "old"
			s.put(key, value{V: "new"})
			announce(c, key)
			second := get()
			waitFor(t, func() bool { return c.Stats().Misses == 2 })
			close(gate)

			if r := <-first; r.err != nil || r.v.V != "old" {
				t.Fatalf("held Get = %q, %v; want %q", r.v.V, r.err, "old")
			}
			if r := <-second; r.err != nil || tt.announced && r.v.V != "new" {
				t.Fatalf("Get started after the change = %q, %v; want %q", r.v.V, r.err, "new")
			}
			c.Wait()
			for range 2 {
				v, err := c.Get(context.Background(), key)
				if err != nil || v.V != "new" {
					t.Fatalf("Get after the change = %q, %v; want %q", v.V, err, "new")
				}
				c.Wait()
			}
			if n := s.calls.Load(); n != 2 {
				t.Errorf("%d loads, want 2: the held one and one after the change", n)
			}
		})
	}
}

// sameStripe returns a key other than key whose generation counter is key's.
func sameStripe[V any](c *Cache[V], key string) string {
	for i := 0; ; i++ {
		other := fmt.Sprintf("k%d", i)
		if other != key && c.stripe(other) == c.stripe(key) {
			return other
		}
	}
}

// Many Gets of one uncached key cost one load.
func TestMissStorm(t *testing.T) {
	const n = 1000
	s := newStore()
	s.put("abc", value{V: "v1"})
	var c *Cache[value]
	load := func(ctx context.Context, key string) (value, error) {
		// Hold the load until every Get has counted its miss, which a Get
		// does once it has joined the load.
		for c.Stats().Misses < n {
			select {
			case <-ctx.Done():
				return value{}, ctx.Err()
			case <-time.After(time.Millisecond):
			}
		}
		return s.load(ctx, key)
	}
	c, err := New(Config{MaxEntries: 1000, LoadTimeout: time.Minute}, load, Options[value]{NotFound: errNotFound})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			<-start
			v, err := c.Get(context.Background(), "abc")
			if err == nil && v.V != "v1" {
				err = fmt.Errorf("got %q", v.V)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := s.calls.Load(); got != 1 {
		t.Errorf("%d loads for %d concurrent misses, want 1", got, n)
	}
}

// A caller that gives up gets its own ctx's error at once; the load it
// shares goes on for the others, and is not cancelled with it.
func TestCallerCancellation(t *testing.T) {
	s := newStore()
	s.put("abc", value{V: "v1"})
	gate := s.hold()
	c := newTestCache(t, Config{MaxEntries: 1000, LoadTimeout: time.Minute}, s, nil)

	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error)
	go func() {
		_, err := c.Get(ctx, "abc")
		gaveUp <- err
	}()
	waitFor(t, func() bool { return s.calls.Load() == 1 })
	type result struct {
		v   value
		err error
	}
	patient := make(chan result)
	go func() {
		v, err := c.Get(context.Background(), "abc")
		patient <- result{v, err}
	}()
	waitFor(t, func() bool { return c.Stats().Misses == 2 })

	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Get = %v, want context.Canceled", err)
	}
	close(gate) // only now: the cancelled caller did not wait for the load
	if r := <-patient; r.err != nil || r.v.V != "v1" {
		t.Fatalf("other Get = %q, %v; want v1", r.v.V, r.err)
	}
	if n := s.calls.Load(); n != 1 {
		t.Errorf("%d loads, want 1", n)
	}
}

// A store that does not answer fails a Get within LoadTimeout.
func TestLoadTimeout(t *testing.T) {
	s := newStore()
	s.hold()
	c := newTestCache(t, Config{MaxEntries: 1000, LoadTimeout: 10 * time.Millisecond}, s, nil)
	if _, err := c.Get(context.Background(), "abc"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get = %v, want context.DeadlineExceeded", err)
	}
	if st := c.Stats(); st.LoadErrors != 1 {
		t.Errorf("LoadErrors = %d, want 1", st.LoadErrors)
	}
}

// Close ends every goroutine the cache started, loads included.
func TestClose(t *testing.T) {
	before := goleak.IgnoreCurrent()
	s := newStore()
	s.put("abc", value{V: "v1"})
	c, err := New(Config{MaxEntries: 1000, LoadTimeout: time.Hour}, s.load, Options[value]{NotFound: errNotFound})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(context.Background(), "abc"); err != nil {
		t.Fatal(err)
	}
	s.hold()
	held := make(chan error)
	go func() {
		_, err := c.Get(context.Background(), "other")
		held <- err
	}()
	waitFor(t, func() bool { return s.calls.Load() == 2 })

	c.Close()
	if err := <-held; !errors.Is(err, context.Canceled) {
		t.Errorf("Get held in a load during Close = %v, want context.Canceled", err)
	}
	if _, err := c.Get(context.Background(), "abc"); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close = %v, want ErrClosed", err)
	}
	c.Invalidate("abc")
	c.Flush()
	c.Wait()
	c.Close()
	// goleak retries until the goroutines are gone or its deadline passes,
	// and names any that stay.
	goleak.VerifyNone(t, before)
}

// Under concurrent changes, a Get that starts after a change was announced
// never returns what the store held before it.
func TestConcurrentInvalidation(t *testing.T) {
	const writes = 300
	var version atomic.Int64 // the last version announced
	var mu sync.Mutex
	current := 0
	load := func(ctx context.Context, key string) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return current, nil
	}
	c, err := New(Config{MaxEntries: 1000, TTL: time.Hour}, load, Options[int]{NotFound: errNotFound})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		for i := 1; i <= writes; i++ {
			mu.Lock()
			current = i
			mu.Unlock()
			if i%50 == 0 {
				c.Flush()
			} else {
				c.Invalidate("abc")
			}
			version.Store(int64(i))
		}
	})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				floor := version.Load()
				got, err := c.Get(context.Background(), "abc")
				if err != nil {
					t.Error(err)
					return
				}
				if int64(got) < floor {
					t.Errorf("Get = version %d after version %d was announced", got, floor)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestNewRejectsBadConfig(t *testing.T) {
	load := func(context.Context, string) (int, error) { return 0, nil }
	for _, tt := range []struct {
		name string
		cfg  Config
		load Loader[int]
		opts Options[int]
	}{
		{"nil loader", Config{}, nil, Options[int]{NotFound: errNotFound}},
		{"no NotFound", Config{}, load, Options[int]{}},
		{"negative size", Config{MaxEntries: -1}, load, Options[int]{NotFound: errNotFound}},
		{"negative TTL", Config{TTL: -time.Second}, load, Options[int]{NotFound: errNotFound}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := New(tt.cfg, tt.load, tt.opts); err == nil {
				c.Close()
				t.Fatal("New succeeded")
			}
		})
	}
}

// waitFor polls cond until it holds; it only fails a test that hangs.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestStaleWhileTheStoreHangs: a store that neither answers nor fails (a
// frozen database) must not hold a request for a cached key for the whole
// LoadTimeout; the stale value is served once staleWait has passed.
func TestStaleWhileTheStoreHangs(t *testing.T) {
	s, clk := newStore(), newClock()
	c := newTestCache(t, Config{TTL: time.Minute, LoadTimeout: time.Hour}, s, clk.Now)
	s.put("abc", value{V: "v1"})
	if got, err := c.Get(context.Background(), "abc"); err != nil || got.V != "v1" {
		t.Fatalf("Get = %v, %v", got, err)
	}
	c.Wait()
	gate := s.hold()
	defer close(gate)
	clk.Advance(61 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := c.Get(ctx, "abc")
	if err != nil || got.V != "v1" {
		t.Fatalf("Get with the store hanging = %v, %v; want the stale v1 (and not to wait for the hour-long load)", got, err)
	}
	if st := c.Stats(); st.StaleServed != 1 {
		t.Fatalf("StaleServed = %d, want 1", st.StaleServed)
	}
}
