package hooks

import (
	"context"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/gate"
	"github.com/linkgate/linkgate/node"
)

// KickOutcome is what asking a media server to end a session came to.
type KickOutcome string

// The outcomes of a kick.
const (
	// KickKicked: the server ended the session.
	KickKicked KickOutcome = "kicked"
	// KickGone: the server no longer had the session (or, for an RTSP
	// connection, had none set up yet).
	KickGone KickOutcome = "gone"
	// KickFailed: the server could not be asked, or did not say.
	KickFailed KickOutcome = "failed"
)

// Tracker holds admissions that outlive their request and ends them when
// their right to exist ends: a node.
type Tracker interface {
	Track(ad *node.Admission) (untrack func())
}

// MaxSessions bounds the sessions tracked for one media server. Past it,
// new sessions are admitted but not tracked: a server that never reports
// its closed sessions must not grow linkgate's memory without end.
const MaxSessions = 100_000

// DefaultSweepInterval is how often the sessions tracked for MediaMTX,
// which reports no disconnection, are compared with its lists.
const DefaultSweepInterval = time.Minute

// sweepMisses is how many sweeps in a row must miss a session before it is
// forgotten: a list read page by page while connections come and go can
// miss one that stays.
const sweepMisses = 2

// Sessions ends, through a media server's API, the sessions the server
// admitted through its hook, once their right to exist ends: the alias is
// deleted, expires or changes type, the credential that admitted them
// changed or was revoked, their token expired. Each admission the server
// can name is held by a Tracker, which decides when it ends; the kick is
// asked for in the background, bounded by the API's timeout, so that no
// hook waits for it. Sessions that end by themselves are forgotten: SRS
// reports them (on_close, on_unpublish, on_stop), and MediaMTX's lists
// are swept for those it no longer holds.
type Sessions struct {
	flavour Flavour
	api     *API
	tracker Tracker
	logger  atomic.Pointer[zap.Logger]
	// kicked is told every kick's outcome, for metrics.
	kicked     func(Flavour, KickOutcome)
	sweepEvery atomic.Int64

	ctx     context.Context
	cancel  context.CancelFunc
	sweeper sync.Once
	wg      sync.WaitGroup

	mu       sync.Mutex
	sessions map[string]*session
	// full is set once MaxSessions was reached, so that it is logged once
	// a time.
	full bool
}

// session is one tracked session of the server.
type session struct {
	key      string
	protocol string
	id       string
	aliasID  string
	untrack  func()
	// misses counts the sweeps in a row whose lists lacked it.
	misses int
}

// NewSessions returns the sessions of the media server of flavour
// (MediaMTX or SRS) whose API is api, tracked by tracker. kicked, if not
// nil, is told the outcome of every kick; it must not block. No goroutine
// starts before the first session is tracked.
func NewSessions(flavour Flavour, api *API, tracker Tracker, logger *zap.Logger, kicked func(Flavour, KickOutcome)) *Sessions {
	s := &Sessions{
		flavour:  flavour,
		api:      api,
		tracker:  tracker,
		kicked:   kicked,
		sessions: map[string]*session{},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.SetSweepInterval(0)
	s.SetLogger(logger)
	return s
}

// SetLogger sets where kicks and sweeps are logged: the sessions outlive
// the config that made them, and log where the latest one logs.
func (s *Sessions) SetLogger(logger *zap.Logger) {
	if logger == nil {
		logger = zap.NewNop()
	}
	s.logger.Store(logger)
}

// API is the media server's API the sessions are ended through.
func (s *Sessions) API() *API { return s.api }

// SetSweepInterval sets how often MediaMTX's lists are swept for sessions
// it no longer holds (DefaultSweepInterval when not positive); the next
// sweep waits the new interval.
func (s *Sessions) SetSweepInterval(d time.Duration) {
	if d <= 0 {
		d = DefaultSweepInterval
	}
	s.sweepEvery.Store(int64(d))
}

// Len is how many sessions are tracked.
func (s *Sessions) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Close forgets every session, stops the sweeps and waits for the one
// under way. Kicks already asked for finish within their timeout.
func (s *Sessions) Close() {
	s.cancel()
	s.mu.Lock()
	all := s.sessions
	s.sessions = map[string]*session{}
	for _, e := range all {
		e.untrack()
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.api.Close()
}

// key is the session a request names, if the server's API can end it.
func (s *Sessions) key(req *Request) (string, bool) {
	switch s.flavour {
	case FlavourMediaMTX:
		if mediaMTXKickable(req.Protocol, req.Client) {
			// The protocol picks the collections: the same ID in two of
			// them would be two sessions.
			return req.Protocol + "/" + req.Client, true
		}
	case FlavourSRS:
		if srsKickable(req.Client) {
			return req.Client, true
		}
	}
	return "", false
}

// admit tracks the session req names, admitted with decision d by gate g,
// if the server's API can end it. A session asked about again (an RTSP
// reader is, at DESCRIBE and SETUP) is held by its latest admission.
func (s *Sessions) admit(g *gate.Gate, req *Request, d *gate.Decision) {
	key, ok := s.key(req)
	if !ok || d.Alias == nil || s.ctx.Err() != nil {
		return
	}
	decision := *d
	e := &session{key: key, protocol: req.Protocol, id: req.Client, aliasID: d.Alias.ID}
	ad := &node.Admission{
		AliasID:   d.Alias.ID,
		Kind:      string(s.flavour),
		TokenHash: orgTokenHash(d),
		Until:     g.Recheck(&decision, alias.TypeLive, d.Alias, time.Now()).Until,
		Check: func(a *alias.Alias, now time.Time) (string, time.Time) {
			standing := g.Recheck(&decision, alias.TypeLive, a, now)
			if standing.End != 0 {
				return standing.End.String(), time.Time{}
			}
			return "", standing.Until
		},
		End: func(reason string) { s.end(e, reason) },
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.sessions[key]
	if old == nil && len(s.sessions) >= MaxSessions {
		if !s.full {
			s.full = true
			s.logger.Load().Warn("media sessions at capacity: new ones are admitted but not tracked",
				zap.String("flavour", string(s.flavour)), zap.Int("max_sessions", MaxSessions))
		}
		return
	}
	s.full = false
	if old != nil {
		old.untrack()
	}
	// Tracking under the lock is safe: the tracker ends admissions
	// outside its own locks, from goroutines of its own.
	e.untrack = s.tracker.Track(ad)
	s.sessions[key] = e
	if s.flavour == FlavourMediaMTX {
		s.sweeper.Do(func() { s.wg.Go(s.sweepLoop) })
	}
}

// ended forgets the session req names: the server reported it closed.
func (s *Sessions) ended(req *Request) {
	key, ok := s.key(req)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.sessions[key]; e != nil {
		delete(s.sessions, key)
		e.untrack()
	}
}

// orgTokenHash is the hex SHA-256 of the organization token that admitted
// an owner, so that the token's revocation ends the session.
func orgTokenHash(d *gate.Decision) string {
	if d.OrgToken == (alias.TokenHash{}) {
		return ""
	}
	return hex.EncodeToString(d.OrgToken[:])
}

// end asks the server, in the background, to end session e for reason,
// unless a later admission of the same session holds it now.
func (s *Sessions) end(e *session, reason string) {
	s.mu.Lock()
	current := s.sessions[e.key] == e
	if current {
		delete(s.sessions, e.key)
	}
	s.mu.Unlock()
	if current {
		go s.kick(e, reason)
	}
}

// kick asks the server to end session e, within the API's timeout. It is
// not bound to the sessions' lifetime: a config reload that drops the API
// must not save a session whose end was already decided.
func (s *Sessions) kick(e *session, reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.api.Timeout())
	defer cancel()
	var outcome KickOutcome
	var err error
	switch s.flavour {
	case FlavourMediaMTX:
		outcome, err = s.api.kickMediaMTX(ctx, e.protocol, e.id)
	case FlavourSRS:
		outcome, err = s.api.kickSRS(ctx, e.id)
	}
	if s.kicked != nil {
		s.kicked(s.flavour, outcome)
	}
	fields := []zap.Field{
		zap.String("flavour", string(s.flavour)),
		zap.String("alias", e.aliasID),
		zap.String("protocol", e.protocol),
		zap.String("session", e.id),
		zap.String("reason", reason),
		zap.String("outcome", string(outcome)),
	}
	if err != nil {
		if ce := s.logger.Load().Check(zap.WarnLevel, "media session kick failed"); ce != nil {
			ce.Write(append(fields, zap.String("failure", failureCode(err)), zap.Error(err))...)
		}
		return
	}
	if ce := s.logger.Load().Check(zap.InfoLevel, "media session ended"); ce != nil {
		ce.Write(fields...)
	}
}

// sweepLoop sweeps MediaMTX's lists until the sessions close.
func (s *Sessions) sweepLoop() {
	for {
		t := time.NewTimer(time.Duration(s.sweepEvery.Load()))
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		s.sweep(s.ctx)
	}
}

// sweep forgets the sessions MediaMTX's lists have missed sweepMisses
// times in a row. A protocol whose lists cannot be read is left alone.
func (s *Sessions) sweep(ctx context.Context) {
	s.mu.Lock()
	byProtocol := map[string][]*session{}
	for _, e := range s.sessions {
		byProtocol[e.protocol] = append(byProtocol[e.protocol], e)
	}
	s.mu.Unlock()
	for protocol, tracked := range byProtocol {
		ids, known, err := s.api.listMediaMTX(ctx, protocol)
		if err != nil {
			if ce := s.logger.Load().Check(zap.WarnLevel, "media session sweep failed"); ce != nil {
				ce.Write(zap.String("flavour", string(s.flavour)), zap.String("protocol", protocol),
					zap.String("failure", failureCode(err)), zap.Error(err))
			}
			continue
		}
		if !known {
			continue
		}
		forgotten := 0
		s.mu.Lock()
		for _, e := range tracked {
			switch {
			case s.sessions[e.key] != e:
			case ids[e.id]:
				e.misses = 0
			default:
				e.misses++
				if e.misses >= sweepMisses {
					delete(s.sessions, e.key)
					e.untrack()
					forgotten++
				}
			}
		}
		s.mu.Unlock()
		if ce := s.logger.Load().Check(zap.DebugLevel, "media sessions swept"); ce != nil {
			ce.Write(zap.String("flavour", string(s.flavour)), zap.String("protocol", protocol),
				zap.Int("tracked", len(tracked)), zap.Int("forgotten", forgotten))
		}
	}
}
