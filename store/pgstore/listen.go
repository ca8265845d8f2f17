package pgstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"

	"github.com/linkgate/linkgate/alias"
)

// Channel is the notification channel the migrations' triggers notify on
// every insert, update and delete of an alias or an organization token.
const Channel = "linkgate_invalidate"

// ListenerApplicationName is the application_name of the listener's
// connection, by which operators find it in pg_stat_activity.
const ListenerApplicationName = "linkgate-listener"

// The kinds of payload on Channel, as ParseNotification returns them:
// "alias:<id>" and "token:<hex of the token's SHA-256>".
const (
	KindAlias = "alias"
	KindToken = "token"
)

// ParseNotification splits a payload sent on Channel into its kind
// (KindAlias or KindToken) and key (the alias ID, or the token hash in hex).
// ok is false for anything the triggers do not send.
func ParseNotification(payload string) (kind, key string, ok bool) {
	kind, key, _ = strings.Cut(payload, ":")
	switch kind {
	case KindAlias:
		ok = alias.ValidID(key)
	case KindToken:
		b, err := hex.DecodeString(key)
		ok = err == nil && len(b) == len(alias.TokenHash{})
	}
	if !ok {
		return "", "", false
	}
	return kind, key, true
}

// ListenerConfig configures Listen. Only DSN is required.
type ListenerConfig struct {
	// DSN is the PostgreSQL connection string, as for Open.
	DSN string
	// OnNotify is called with the payload of every notification, in the
	// order they arrive, from the listener's goroutine.
	OnNotify func(payload string)
	// OnConnect is called after every successful connect and LISTEN, before
	// any notification is delivered. Notifications sent while the listener
	// was disconnected are lost, so this is where a cache flushes.
	OnConnect func()
	// OnReconnect, if set, is called on every connect after the first one,
	// just before OnConnect, for instance to count reconnects.
	OnReconnect func()
	// OnDisconnect, if set, is called when a connection that listened is
	// lost, before the wait for the next attempt: until OnConnect is
	// called again, notifications are being lost.
	OnDisconnect func()
	// PingInterval is how long the listener waits for a notification before
	// pinging the server: a connection that died silently (a dead NAT entry,
	// a frozen server) sends no TCP reset. Default 5s.
	PingInterval time.Duration
	// PingTimeout bounds a ping; one that fails or times out drops the
	// connection. Default 2s.
	PingTimeout time.Duration
	// MinBackoff and MaxBackoff bound the jittered, exponentially growing
	// wait between connection attempts. Defaults 100ms and 10s. While the
	// attempts reach a standby (a failover under way), the wait stays at
	// most 500ms, or MinBackoff if that is longer.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives connection losses and recoveries. It never sees the
	// DSN, which may hold a password; only the server's host and port.
	Logger *zap.Logger
}

// withDefaults fills in every unset field, callbacks included, so the
// listener never checks for nil.
func (cfg ListenerConfig) withDefaults() ListenerConfig {
	if cfg.OnNotify == nil {
		cfg.OnNotify = func(string) {}
	}
	if cfg.OnConnect == nil {
		cfg.OnConnect = func() {}
	}
	if cfg.OnReconnect == nil {
		cfg.OnReconnect = func() {}
	}
	if cfg.OnDisconnect == nil {
		cfg.OnDisconnect = func() {}
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 5 * time.Second
	}
	if cfg.PingTimeout <= 0 {
		cfg.PingTimeout = 2 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Second
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return cfg
}

// Listen delivers the notifications on Channel to cfg.OnNotify until ctx is
// done. It holds one dedicated connection (not a pooled one, which could be
// released or reused by someone else) and replaces it, with backoff, when
// it fails or stops answering pings. It returns once ctx is done and its
// connection is closed, leaving no goroutine behind; or at once, after
// logging it, if cfg.DSN cannot be parsed.
func Listen(ctx context.Context, cfg ListenerConfig) {
	cfg = cfg.withDefaults()
	connCfg, err := pgx.ParseConfig(cfg.DSN)
	if err != nil {
		// pgx quotes the DSN in parse errors; never pass it on.
		cfg.Logger.Error("cache invalidation listener not started: the PostgreSQL connection string cannot be parsed")
		return
	}
	connCfg.RuntimeParams["application_name"] = ListenerApplicationName
	if connCfg.ConnectTimeout == 0 {
		connCfg.ConnectTimeout = 5 * time.Second
	}
	l := &listener{
		ListenerConfig: cfg,
		connCfg:        connCfg,
		log:            cfg.Logger.With(zap.String("host", connCfg.Host), zap.Uint16("port", connCfg.Port)),
	}
	l.run(ctx)
}

// StartListener runs Listen in a goroutine of its own. stop cancels it and
// returns once it has ended; calling stop again does nothing.
func StartListener(cfg ListenerConfig) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Listen(ctx, cfg)
	}()
	return func() {
		cancel()
		<-done
	}
}

type listener struct {
	ListenerConfig
	connCfg *pgx.ConnConfig
	log     *zap.Logger
}

// run connects, listens, and reconnects until ctx is done.
func (l *listener) run(ctx context.Context) {
	reconnect := false
	failures := 0
	for {
		listenedAt, err := l.session(ctx, reconnect)
		if ctx.Err() != nil {
			return
		}
		if !listenedAt.IsZero() {
			reconnect = true
			l.OnDisconnect()
			// Only a connection that held for a while resets the backoff:
			// a server that accepts and then drops every connection must
			// not be hammered.
			if time.Since(listenedAt) >= l.MaxBackoff {
				failures = 0
			}
		}
		hi := l.MaxBackoff
		if reachedStandby(err) {
			hi = min(hi, max(standbyBackoff, l.MinBackoff))
		}
		wait := backoff(failures, l.MinBackoff, hi)
		failures++
		msg := "cache invalidation listener cannot connect"
		if !listenedAt.IsZero() {
			msg = "cache invalidation listener lost its connection; the cache will be flushed when it is back"
		}
		l.log.Warn(msg, zap.Error(err), zap.Int("failures", failures), zap.Duration("retry_in", wait))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// standbyBackoff caps the wait between attempts that reached a standby,
// which target_session_attrs turned down as read-only: a failover is under
// way, and the listener must be back on the promoted standby soon after it
// takes writes (as the pool is, which connects on demand), not a backoff
// grown through the whole failover later, during which changes made
// through other nodes would go unheard. An attempt costs the standby one
// short session.
const standbyBackoff = 500 * time.Millisecond

// reachedStandby tells whether a failed connect found a server that is up
// but not the primary the DSN asks for.
func reachedStandby(err error) bool {
	return errors.Is(err, pgconn.ErrReadOnlyConnection) || errors.Is(err, pgconn.ErrStandbyConnection)
}

// backoff is the wait after the given number of consecutive failures:
// exponential from lo up to hi, then jittered into its upper half so that
// nodes cut off together do not all come back in the same instant.
func backoff(failures int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 0; i < failures && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d/2 + rand.N(d/2+1)
}

// session runs one connection from connect to failure. listenedAt is when
// LISTEN succeeded, zero if it never did.
func (l *listener) session(ctx context.Context, reconnect bool) (listenedAt time.Time, err error) {
	socks := newSockets(ctx, l.connCfg.DialFunc)
	defer socks.close()
	connCfg := l.connCfg.Copy()
	connCfg.DialFunc = socks.dial

	// pgx gives each host of the DSN ConnectTimeout, from the dial to the
	// target_session_attrs check, so that a host that accepts and then says
	// nothing (a frozen primary) leaves the next one its turn: a deadline
	// over the whole attempt would expire on the first host every time.
	conn, err := pgx.ConnectConfig(ctx, connCfg)
	if err != nil {
		return time.Time{}, fmt.Errorf("connecting: %w", withoutConfig(err))
	}
	defer l.close(ctx, conn, socks)
	// The server that answered must not hold the listener in LISTEN either.
	setupCtx, cancel := context.WithTimeout(ctx, connCfg.ConnectTimeout)
	defer cancel()
	if _, err := conn.Exec(setupCtx, "LISTEN "+pgx.Identifier{Channel}.Sanitize()); err != nil {
		return time.Time{}, fmt.Errorf("LISTEN: %w", err)
	}
	cancel()
	listenedAt = time.Now()
	// With several hosts in the DSN, the one that took the listener: after
	// a failover, the promoted standby.
	server := zap.Stringer("server", conn.PgConn().Conn().RemoteAddr())
	if reconnect {
		l.log.Info("cache invalidation listener reconnected", server)
		l.OnReconnect()
	} else {
		l.log.Info("cache invalidation listener connected", server)
	}
	l.OnConnect()

	for {
		waitCtx, cancel := context.WithTimeout(ctx, l.PingInterval)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		// pgx may hand back a notification it read just before the error.
		if n != nil {
			l.OnNotify(n.Payload)
		}
		if err == nil {
			continue
		}
		if !pgconn.Timeout(err) {
			return listenedAt, fmt.Errorf("waiting for notifications: %w", err)
		}
		pingCtx, cancel := context.WithTimeout(ctx, l.PingTimeout)
		err = conn.Ping(pingCtx)
		cancel()
		if err != nil {
			return listenedAt, fmt.Errorf("ping: %w", err)
		}
	}
}

// close says goodbye to the server if it still listens, then cuts every
// socket of the session and waits until pgx has let go of them.
func (l *listener) close(ctx context.Context, conn *pgx.Conn, socks *sockets) {
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.PingTimeout)
	defer cancel()
	conn.Close(closeCtx)
	socks.close()
	<-conn.PgConn().CleanupDone()
}

// withoutConfig drops the user and database name that pgx's connect errors
// quote, so the log shows the server's address at most.
func withoutConfig(err error) error {
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) && connErr.Unwrap() != nil {
		return connErr.Unwrap()
	}
	return err
}

// sockets dials the network connections of one session and closes them all
// when it ends. pgx closes a broken connection in a goroutine of its own,
// which first opens another connection for a cancel request and then waits
// up to 15 seconds for the server to hang up; on a dead network that would
// hold up the reconnect and outlive Listen. Closing the sockets ends it at
// once.
type sockets struct {
	ctx    context.Context // done once the session is over
	cancel context.CancelFunc
	dialer pgconn.DialFunc

	mu   sync.Mutex
	open []net.Conn
}

func newSockets(ctx context.Context, dialer pgconn.DialFunc) *sockets {
	ctx, cancel := context.WithCancel(ctx)
	return &sockets{ctx: ctx, cancel: cancel, dialer: dialer}
}

func (s *sockets) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	c, err := s.dialer(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ctx.Err(); err != nil {
		c.Close()
		return nil, err
	}
	s.open = append(s.open, c)
	return c, nil
}

func (s *sockets) close() {
	s.cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.open {
		c.Close()
	}
	s.open = nil
}
