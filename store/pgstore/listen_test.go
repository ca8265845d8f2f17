package pgstore_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/store/pgstore"
)

// The listener tests are not parallel: they terminate backends, count
// connections, freeze sockets and restart the server, and goleak must see
// only their own goroutines. Go starts parallel tests only after every
// sequential one has finished, so they cannot disturb tests elsewhere in the
// package either.

// waitTimeout only detects hangs; nothing here should take a fraction of it.
const waitTimeout = 30 * time.Second

func TestParseNotification(t *testing.T) {
	hash := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		payload   string
		kind, key string
		ok        bool
	}{
		{"alias:abc123def456", pgstore.KindAlias, "abc123def456", true},
		{"alias:Made_By-Hand", pgstore.KindAlias, "Made_By-Hand", true},
		{"token:" + hash, pgstore.KindToken, hash, true},
		{"alias:", "", "", false},
		{"alias", "", "", false},
		{"alias:a:b", "", "", false},
		{"alias:" + strings.Repeat("a", 65), "", "", false},
		{"token:" + hash[:62], "", "", false},
		{"token:" + hash[:63] + "g", "", "", false},
		{"session:abc", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		kind, key, ok := pgstore.ParseNotification(tt.payload)
		if kind != tt.kind || key != tt.key || ok != tt.ok {
			t.Errorf("ParseNotification(%q) = %q, %q, %v; want %q, %q, %v",
				tt.payload, kind, key, ok, tt.kind, tt.key, tt.ok)
		}
	}
}

func TestListenDeliversEveryChange(t *testing.T) {
	f := newFixture(t)
	r := startListener(t, f.dsn)
	r.waitConnects(t, 1)

	ctx := context.Background()
	id := f.createAlias(t)
	if _, err := f.store.UpdateAlias(ctx, f.org.ID, id, alias.Patch{Name: alias.Field{Set: true, Value: "renamed"}}); err != nil {
		t.Fatal(err)
	}
	// Changes made by hand in SQL must reach the caches too.
	if _, err := f.store.Pool().Exec(ctx, "UPDATE aliases SET name = 'by hand' WHERE id = $1", id); err != nil {
		t.Fatal(err)
	}
	if err := f.store.DeleteAlias(ctx, f.org.ID, id); err != nil {
		t.Fatal(err)
	}
	_, hash := alias.NewOrgToken()
	tok, err := f.store.CreateToken(ctx, f.org.ID, "listen test", hash)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}

	aliasPayload, tokenPayload := "alias:"+id, "token:"+hex.EncodeToString(hash[:])
	want := []string{connected, aliasPayload, aliasPayload, aliasPayload, aliasPayload, tokenPayload, tokenPayload}
	eventually(t, "every change to be delivered", func() bool { return len(r.Events()) >= len(want) })
	if got := r.Events(); !slices.Equal(got, want) {
		t.Errorf("events (OnConnect recorded as %q):\n got %q\nwant %q", connected, got, want)
	}
	if n := r.reconnects.Load(); n != 0 {
		t.Errorf("OnReconnect called %d times without a reconnect", n)
	}
	for _, p := range []string{aliasPayload, tokenPayload} {
		if _, _, ok := pgstore.ParseNotification(p); !ok {
			t.Errorf("ParseNotification rejects the trigger's payload %q", p)
		}
	}
}

func TestListenHoldsOneConnectionAndStopsCleanly(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	f := newFixture(t)
	r := &recorder{}
	cfg := r.config(f.dsn, zaptest.NewLogger(t))
	cfg.PingInterval = 20 * time.Millisecond
	stop := pgstore.StartListener(cfg)
	t.Cleanup(stop)
	r.waitConnects(t, 1)

	// pg_stat_activity shows the last statement of a connection: waiting
	// for "-- ping" proves that pings reuse the one connection.
	var pid int32
	eventually(t, "the listener to ping", func() bool {
		conns := f.listenerConns(t)
		if len(conns) != 1 {
			t.Fatalf("listener connections: %v; want exactly one", conns)
		}
		if pid == 0 {
			pid = conns[0].pid
		}
		if conns[0].pid != pid {
			t.Fatalf("the listener replaced its connection (pid %d, then %d) though nothing failed", pid, conns[0].pid)
		}
		return conns[0].query == "-- ping"
	})

	stopWithin(t, stop)
	eventually(t, "the listener's connection to leave pg_stat_activity", func() bool { return len(f.listenerConns(t)) == 0 })
	f.store.Close()
	goleak.VerifyNone(t, ignore)
}

func TestListenReconnectsAfterTermination(t *testing.T) {
	f := newFixture(t)
	r := startListener(t, f.dsn)
	r.waitConnects(t, 1)
	before := f.listenerConns(t)
	if len(before) != 1 {
		t.Fatalf("listener connections: %v; want exactly one", before)
	}

	var terminated int
	f.serverQuery(t, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 AND datname = $2`, []any{pgstore.ListenerApplicationName, f.dbName}, &terminated)
	if terminated != 1 {
		t.Fatalf("terminated %d listener connections; want 1", terminated)
	}

	r.waitConnects(t, 2)
	if n := r.reconnects.Load(); n < 1 {
		t.Errorf("OnReconnect called %d times after a reconnect", n)
	}
	if events := r.Events(); !slices.Equal(events[:3], []string{connected, disconnected, connected}) {
		t.Errorf("events %q, want OnConnect, OnDisconnect, OnConnect first", events)
	}
	eventually(t, "the old connection to be replaced by exactly one new one", func() bool {
		conns := f.listenerConns(t)
		return len(conns) == 1 && conns[0].pid != before[0].pid
	})
	id := f.createAlias(t)
	r.waitDeliveredSinceConnect(t, "alias:"+id)
}

func TestListenDetectsStalledConnection(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	f := newFixture(t)
	proxy := newStallProxy(t, f.dsn)
	r := &recorder{}
	cfg := r.config(proxy.dsn, zaptest.NewLogger(t))
	cfg.PingInterval = 200 * time.Millisecond
	cfg.PingTimeout = 200 * time.Millisecond
	cfg.MinBackoff = 10 * time.Millisecond
	stop := pgstore.StartListener(cfg)
	t.Cleanup(stop)
	r.waitConnects(t, 1)

	// No reset, no close: only the ping can tell that this path is dead.
	// New connections still go through, as after a NAT entry expired.
	proxy.freeze()
	// Tighter than waitTimeout: left to itself, pgx would hold the frozen
	// connection for 15s while closing it, and the listener with it.
	eventuallyWithin(t, 10*time.Second, "a reconnect", func() bool { return r.connects.Load() >= 2 })
	id := f.createAlias(t)
	r.waitDeliveredSinceConnect(t, "alias:"+id)

	// Nor may that close outlive Listen in a goroutine of pgx's. The proxy
	// stays up meanwhile: closing it would end that goroutine too.
	stopWithin(t, stop)
	f.store.Close()
	goleak.VerifyNone(t, ignore,
		goleak.IgnoreAnyFunction("github.com/linkgate/linkgate/store/pgstore_test.(*stallProxy).accept"),
		goleak.IgnoreAnyFunction("github.com/linkgate/linkgate/store/pgstore_test.(*stallProxy).pump"))
}

func TestListenNeverLogsTheDSN(t *testing.T) {
	f := newFixture(t)
	const password = "pw-must-not-be-logged-7f3a"
	good, err := url.Parse(f.dsn)
	if err != nil {
		t.Fatal(err)
	}
	// The test server trusts every local connection, so the password is
	// accepted and ignored.
	good.User = url.UserPassword(good.User.Username(), password)
	refused := *good
	refused.Host = closedAddr(t)

	core, logs := observer.New(zap.DebugLevel)
	listenUntil := func(dsn, what string, until func(*recorder) bool) {
		r := &recorder{}
		cfg := r.config(dsn, zap.New(core))
		cfg.MinBackoff, cfg.MaxBackoff = time.Millisecond, 10*time.Millisecond
		stop := pgstore.StartListener(cfg)
		eventually(t, what, func() bool { return until(r) })
		stopWithin(t, stop)
	}
	listenUntil(refused.String(), "connection failures to be logged", func(*recorder) bool {
		return logs.FilterLevelExact(zap.WarnLevel).Len() >= 3
	})
	listenUntil(good.String(), "a connect", func(r *recorder) bool { return r.connects.Load() >= 1 })

	for _, e := range logs.All() {
		line := fmt.Sprint(e.Message, e.ContextMap())
		if strings.Contains(line, password) || strings.Contains(line, f.dbName) {
			t.Errorf("log entry reveals the DSN: %s", line)
		}
	}
}

// TestListenPassesASilentHost gives the listener a DSN whose first host
// accepts connections and never answers, as a server whose machine froze
// does, and a working server second: the listener must reach the second.
// connect_timeout is each host's, as libpq and pgx have it, not the whole
// attempt's.
func TestListenPassesASilentHost(t *testing.T) {
	f := newFixture(t)
	silent := newSilentServer(t)
	u, err := url.Parse(f.dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = silent + "," + u.Host
	q := u.Query()
	q.Set("connect_timeout", "1")
	u.RawQuery = q.Encode()
	r := startListener(t, u.String())
	r.waitConnects(t, 1)
	id := f.createAlias(t)
	r.waitDeliveredSinceConnect(t, "alias:"+id)
}

// newSilentServer accepts TCP connections and reads from them, but never
// writes a byte, and returns its address.
func newSilentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				io.Copy(io.Discard, c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// TestListenFollowsAFailover runs the listener on a primary and its
// standby, named by one DSN with target_session_attrs=read-write, crashes
// the primary and promotes the standby. However long the failover takes,
// the listener tries again at least every half second while the standby
// answers as read-only, instead of backing off further and further, so
// that it is back soon after the promotion; and once back it delivers the
// changes made on the promoted standby.
func TestListenFollowsAFailover(t *testing.T) {
	pair := pgtest.NewPair(t)
	pair.Primary.Exec(t, "postgres", "CREATE DATABASE app")
	dsn := pair.DSN("app")
	s, err := pgstore.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	org, err := s.CreateOrg(t.Context(), "failover")
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.WarnLevel)
	r := &recorder{}
	// The default backoff, which would wait 1.6 to 3.2 s after the 6th
	// failure.
	cfg := r.config(dsn, zap.New(zapcore.NewTee(core, zaptest.NewLogger(t).Core())))
	t.Cleanup(pgstore.StartListener(cfg))
	r.waitConnects(t, 1)

	pair.Primary.Crash(t)
	const failures = 6
	failed := func() []observer.LoggedEntry {
		return logs.FilterMessage("cache invalidation listener cannot connect").All()
	}
	eventually(t, fmt.Sprintf("%d failed attempts while the primary is down", failures), func() bool { return len(failed()) >= failures })
	for _, e := range failed() {
		fields := e.ContextMap()
		wait, _ := time.ParseDuration(fmt.Sprint(fields["retry_in"]))
		if strings.Contains(fmt.Sprint(fields["error"]), "read only") && wait > 500*time.Millisecond {
			t.Errorf("after failure %v, with the standby up, the listener waits %v, want at most 500ms", fields["failures"], wait)
		}
	}

	pair.Standby.Promote(t)
	r.waitConnects(t, 2)
	a, err := s.CreateAlias(t.Context(), alias.Alias{ID: alias.NewID(), OrgID: org.ID, Type: alias.TypeLive, ExpiredAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	r.waitDeliveredSinceConnect(t, "alias:"+a.ID)
}

// TestListenSurvivesServerRestart comes last: it takes the package's server
// down, which would break any test running alongside.
func TestListenSurvivesServerRestart(t *testing.T) {
	f := newFixture(t)
	id := f.createAlias(t)
	r := &recorder{}
	cfg := r.config(f.dsn, zaptest.NewLogger(t))
	cfg.MinBackoff, cfg.MaxBackoff = 10*time.Millisecond, 200*time.Millisecond
	stop := pgstore.StartListener(cfg)
	t.Cleanup(stop)
	r.waitConnects(t, 1)

	pgtest.StopServer(t)
	pgtest.StartServer(t)
	r.waitConnects(t, 2)

	// A fresh connection: the pool's died with the server.
	conn := f.connect(t, f.dsn)
	if _, err := conn.Exec(context.Background(), "UPDATE aliases SET name = 'after restart' WHERE id = $1", id); err != nil {
		t.Fatal(err)
	}
	r.waitDeliveredSinceConnect(t, "alias:"+id)
}

// connected and disconnected stand for calls of OnConnect and
// OnDisconnect in a recorder's events.
const (
	connected    = "(connected)"
	disconnected = "(disconnected)"
)

// recorder keeps what a listener reported, in order.
type recorder struct {
	mu         sync.Mutex
	events     []string
	connects   atomic.Int32
	reconnects atomic.Int32
}

func (r *recorder) config(dsn string, log *zap.Logger) pgstore.ListenerConfig {
	return pgstore.ListenerConfig{
		DSN:      dsn,
		Logger:   log,
		OnNotify: r.add,
		OnConnect: func() {
			r.add(connected)
			r.connects.Add(1)
		},
		OnReconnect:  func() { r.reconnects.Add(1) },
		OnDisconnect: func() { r.add(disconnected) },
	}
}

func (r *recorder) add(event string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, event)
}

// Events returns a copy of everything recorded so far.
func (r *recorder) Events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func (r *recorder) waitConnects(t *testing.T, n int32) {
	t.Helper()
	eventually(t, fmt.Sprintf("OnConnect to be called %d times", n), func() bool { return r.connects.Load() >= n })
}

// waitDeliveredSinceConnect waits for payload after the latest OnConnect:
// a change made while disconnected need not arrive, one made since must.
func (r *recorder) waitDeliveredSinceConnect(t *testing.T, payload string) {
	t.Helper()
	eventually(t, payload+" to be delivered", func() bool {
		events := r.Events()
		for i := len(events) - 1; i >= 0 && events[i] != connected; i-- {
			if events[i] == payload {
				return true
			}
		}
		return false
	})
}

// startListener starts a listener that retries quickly and stops it when
// the test ends.
func startListener(t *testing.T, dsn string) *recorder {
	t.Helper()
	r := &recorder{}
	cfg := r.config(dsn, zaptest.NewLogger(t))
	cfg.MinBackoff, cfg.MaxBackoff = 10*time.Millisecond, 200*time.Millisecond
	t.Cleanup(pgstore.StartListener(cfg))
	return r
}

func stopWithin(t *testing.T, stop func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		stop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatalf("stop did not return within %v", waitTimeout)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eventuallyWithin(t, waitTimeout, what, cond)
}

func eventuallyWithin(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fixture is a migrated database of its own with one organization.
type fixture struct {
	dsn    string
	dbName string
	store  *pgstore.Store
	org    alias.Org
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{dsn: pgtest.DB(t)}
	u, err := url.Parse(f.dsn)
	if err != nil {
		t.Fatal(err)
	}
	f.dbName = strings.TrimPrefix(u.Path, "/")
	if f.store, err = pgstore.Open(f.dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.store.Close)
	ctx := context.Background()
	if err := f.store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if f.org, err = f.store.CreateOrg(ctx, "listen test"); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) createAlias(t *testing.T) string {
	t.Helper()
	a, err := f.store.CreateAlias(context.Background(), alias.Alias{
		ID:        alias.NewID(),
		OrgID:     f.org.ID,
		Type:      alias.TypeLive,
		ExpiredAt: time.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

// connect opens a connection of the test's own, closed when the test ends.
func (f *fixture) connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// serverQuery runs a query on the maintenance database, through a
// connection of its own since the server may have restarted since the last.
func (f *fixture) serverQuery(t *testing.T, sql string, args []any, dest ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgtest.Server(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(ctx, sql, args...).Scan(dest...); err != nil {
		t.Fatal(err)
	}
}

type activity struct {
	pid   int32
	query string
}

// listenerConns lists the listener connections to the fixture's database.
func (f *fixture) listenerConns(t *testing.T) []activity {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgtest.Server(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, _ := conn.Query(ctx, `SELECT pid, query FROM pg_stat_activity
		WHERE application_name = $1 AND datname = $2 ORDER BY pid`, pgstore.ListenerApplicationName, f.dbName)
	conns, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (activity, error) {
		var a activity
		return a, row.Scan(&a.pid, &a.query)
	})
	if err != nil {
		t.Fatal(err)
	}
	return conns
}

// closedAddr returns a local address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// stallProxy forwards TCP connections to a PostgreSQL server until frozen:
// then the connections it holds pass nothing more, not even a close, as when
// a NAT entry expires or the server's host freezes. Connections made after
// freeze go through.
type stallProxy struct {
	dsn    string // the database's DSN, pointed at the proxy
	ln     net.Listener
	target string
	done   chan struct{}
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	pairs  []*proxyPair
}

type proxyPair struct {
	client, server net.Conn
	frozen         atomic.Bool
}

func newStallProxy(t *testing.T, dsn string) *stallProxy {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, target: u.Host, done: make(chan struct{})}
	u.Host = ln.Addr().String()
	p.dsn = u.String()
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

func (p *stallProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		pair := &proxyPair{client: client, server: server}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			client.Close()
			server.Close()
			return
		}
		p.pairs = append(p.pairs, pair)
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pump(pair, client, server)
		go p.pump(pair, server, client)
	}
}

func (p *stallProxy) pump(pair *proxyPair, src, dst net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if pair.frozen.Load() {
			<-p.done
			return
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			src.Close()
			dst.Close()
			return
		}
	}
}

// freeze stalls every connection the proxy holds.
func (p *stallProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pair := range p.pairs {
		pair.frozen.Store(true)
	}
}

// Close closes every connection and waits for the proxy's goroutines.
func (p *stallProxy) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.done)
		p.ln.Close()
		for _, pair := range p.pairs {
			pair.client.Close()
			pair.server.Close()
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
}
