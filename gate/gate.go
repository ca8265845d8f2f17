// Package gate is linkgate's one access decision. The gateway (alias_auth),
// the API's retrieve endpoint and the media-server hooks all put what a
// client presented into a Request, ask Decide, and render the Decision in
// their own format. Everything that can admit or refuse a client lives
// here: reading and stripping credentials, JWT rules, session cookies, the
// remembered-token cache, the failure limiter and the passcode page. It
// knows nothing of Caddy.
package gate

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/linkgate/linkgate/alias"
)

// Source is where the gate reads what it decides on, normally a node's
// caches. The aliases it returns are shared and must not be changed.
type Source interface {
	// Alias returns an alias by ID, or alias.ErrNotFound.
	Alias(ctx context.Context, id string) (*alias.Alias, error)
	// AliasByStreamKey returns the alias whose stream key is key, or
	// alias.ErrNotFound.
	AliasByStreamKey(ctx context.Context, key string) (*alias.Alias, error)
	// OrgByToken returns the organization holding an unrevoked token, or
	// alias.ErrNotFound.
	OrgByToken(ctx context.Context, h alias.TokenHash) (string, error)
}

// Gate decides whether a client may reach what an alias stands for.
type Gate struct {
	Source Source
	JWT    *JWTVerifier
	// Tokens remembers what verified JWTs and session cookies proved; nil
	// disables it.
	Tokens *TokenCache
	// SessionKey returns the key that signs session cookies, or nil while
	// it is not loaded: then no cookie is issued or accepted. A nil
	// SessionKey turns sessions off.
	SessionKey func() []byte
	// Limiter counts failed credentials per client and alias; nil turns
	// throttling off.
	Limiter *Limiter
	Logger  *zap.Logger
	Now     func() time.Time

	signer atomic.Pointer[SessionSigner]
	issued issuedCookies
}

// Request is what a client presented to an entry point, and what the entry
// point asks of it.
type Request struct {
	// AliasID is the alias the client names.
	AliasID string
	// Type is the type of alias the entry point serves; empty serves both.
	Type alias.Type
	// Need is the role the entry point requires.
	Need alias.Requirement
	// Session is the alias's session cookie, if HasSession.
	Session    string
	HasSession bool
	// Playback is the playback token, if HasPlayback, and PlaybackScope
	// the request's path up to the alias ID, which a token is bound to.
	Playback      string
	HasPlayback   bool
	PlaybackScope string
	// Credential is the first other credential the client presented.
	Credential Credential
	// Client is the client's IP address: failures are counted per client
	// and alias.
	Client string
	// OwnerSeesExpired lets the owning organization's token open an
	// expired alias (the API shows owners their expired aliases).
	OwnerSeesExpired bool
	// NameMayBeKey marks an AliasID that may be a stream key instead: an
	// nginx-rtmp publisher may name the stream by its key.
	NameMayBeKey bool
}

// Decision is the gate's answer to a Request.
type Decision struct {
	Reason Reason
	// Alias is the alias the decision is about, once it was found.
	Alias *alias.Alias
	// Grant is what the client proved; its role is RoleNone unless
	// admitted.
	Grant alias.Grant
	// Expiry is when an admission ends: the earliest of the credential's
	// and the alias's expiry.
	Expiry time.Time
	// RetryAfter is how long a throttled client, or one that met an
	// unavailable store, should wait.
	RetryAfter time.Duration
	// ByStreamKey tells that the alias was found by the stream key the
	// request named it by (NameMayBeKey).
	ByStreamKey bool
	// OrgToken is the hash of the organization token that admitted the
	// client, if one did: what it admitted ends when the token is revoked.
	OrgToken alias.TokenHash
}

// Admitted reports whether the client may go on.
func (d *Decision) Admitted() bool { return d.Reason.Admitted() }

// streamKeyBucket is the limiter's "alias" for guesses of stream keys sent
// as stream names. It cannot be an alias ID, so it never shares a count
// with a real alias.
const streamKeyBucket = "\x00stream_key"

// Decide is the one access decision: the alias from the source (unknown,
// expired or of the other type: not found), its session cookie, else the
// credential (throttled per client and alias, failures counted), else
// public viewing; then the role against the need.
func (g *Gate) Decide(ctx context.Context, req *Request) Decision {
	now := g.now()
	if !alias.ValidID(req.AliasID) {
		return g.unknown(ctx, req, now)
	}
	a, err := g.Source.Alias(ctx, req.AliasID)
	switch {
	case errors.Is(err, alias.ErrNotFound):
		return g.unknown(ctx, req, now)
	case err != nil:
		return g.unavailable(req.AliasID, err)
	}
	return g.decideFor(ctx, a, req, now)
}

func (g *Gate) decideFor(ctx context.Context, a *alias.Alias, req *Request, now time.Time) Decision {
	if req.Type != "" && a.Type != req.Type {
		return Decision{Reason: ReasonWrongType}
	}
	c := req.Credential
	if a.Expired(now) {
		return g.expired(ctx, a, req, now)
	}
	revokedSession := false
	if req.HasSession {
		// An invalid cookie is ignored, not counted: it is most often one
		// an alias update retired, and the credential beside it decides.
		if grant, ok := g.session(a, req.Session, now); ok && grant.Role.Allows(req.Need) {
			if !a.Revoked(&grant, now) {
				return admit(a, grant, ReasonSession)
			}
			revokedSession = true
		}
	}
	// A playback token is read as the cookie is, before the throttle and
	// never counted; when it fails, a credential beside it still decides,
	// and without one the client learns why the token failed.
	var playbackRefused Reason
	if req.HasPlayback {
		grant, r := g.playback(a, req.Playback, req.PlaybackScope, now)
		switch {
		case r != 0:
			playbackRefused = r
		case !grant.Role.Allows(req.Need):
			playbackRefused = ReasonRoleNotAllowed
		case a.Revoked(&grant, now):
			playbackRefused = ReasonRevoked
		default:
			return admit(a, grant, ReasonPlaybackToken)
		}
	}
	if c.Kind == KindNone {
		switch {
		case revokedSession:
			return Decision{Reason: ReasonRevoked, Alias: a}
		case a.Public() && req.Need == alias.RequireViewer:
			return admit(a, alias.Grant{Role: alias.RoleViewer, IssuedAt: now}, ReasonPublic)
		case playbackRefused != 0:
			return Decision{Reason: playbackRefused, Alias: a}
		}
		return Decision{Reason: ReasonNoCredential, Alias: a}
	}
	if g.Limiter != nil {
		if retry, blocked := g.Limiter.Blocked(req.Client, a.ID, now); blocked {
			return Decision{Reason: ReasonThrottled, Alias: a, RetryAfter: retry}
		}
	}
	grant, r := g.authenticate(ctx, a, c, now)
	switch {
	case r.BadCredential():
		if g.Limiter != nil {
			g.Limiter.Fail(req.Client, a.ID, now)
		}
		return Decision{Reason: r, Alias: a}
	case r == ReasonUnavailable:
		return Decision{Reason: r, Alias: a, RetryAfter: storeRetry}
	case r != 0:
		return Decision{Reason: r, Alias: a}
	case a.Revoked(&grant, now):
		// Not counted: the credential is genuine, its holder not guessing.
		return Decision{Reason: ReasonRevoked, Alias: a}
	case !grant.Role.Allows(req.Need):
		return Decision{Reason: ReasonRoleNotAllowed, Alias: a}
	}
	d := admit(a, grant, ReasonCredential)
	if c.Kind == KindBearer && grant.Role == alias.RoleOwner {
		d.OrgToken, _ = alias.ParseOrgToken(c.Value)
	}
	return d
}

// expired decides for an alias past its expiry: not found, to everyone
// but its owner where the entry point shows owners their expired aliases.
// An organization token cannot be guessed, so nothing here is counted.
func (g *Gate) expired(ctx context.Context, a *alias.Alias, req *Request, now time.Time) Decision {
	c := req.Credential
	organization := c.Kind == KindOrganization || c.Kind == KindBearer && strings.HasPrefix(c.Value, alias.OrgTokenPrefix)
	if !req.OwnerSeesExpired || !organization {
		return Decision{Reason: ReasonExpired}
	}
	grant, r := g.authenticate(ctx, a, c, now)
	switch {
	case r == ReasonUnavailable:
		return Decision{Reason: r, Alias: a, RetryAfter: storeRetry}
	case r != 0 || !grant.Role.Allows(req.Need):
		return Decision{Reason: ReasonExpired}
	}
	return admit(a, grant, ReasonCredential)
}

func admit(a *alias.Alias, grant alias.Grant, r Reason) Decision {
	if grant.Epoch == 0 {
		grant.Epoch = a.EpochOf(grant.Role)
	}
	expiry := a.ExpiredAt
	if !grant.Expiry.IsZero() && grant.Expiry.Before(expiry) {
		expiry = grant.Expiry
	}
	return Decision{Reason: r, Alias: a, Grant: grant, Expiry: expiry}
}

// unknown decides for an ID no alias has: not found, unless the name may
// be a stream key. Then the name is a credential: wrong names count as
// failures of the client, in a bucket of their own.
func (g *Gate) unknown(ctx context.Context, req *Request, now time.Time) Decision {
	key := req.AliasID
	if !req.NameMayBeKey {
		return Decision{Reason: ReasonNotFound}
	}
	if n := utf8.RuneCountInString(key); n < alias.MinStreamKeyLength || n > alias.MaxStreamKeyLength {
		return Decision{Reason: ReasonNotFound}
	}
	if g.Limiter != nil {
		if retry, blocked := g.Limiter.Blocked(req.Client, streamKeyBucket, now); blocked {
			return Decision{Reason: ReasonThrottled, RetryAfter: retry}
		}
	}
	a, err := g.Source.AliasByStreamKey(ctx, key)
	switch {
	case errors.Is(err, alias.ErrNotFound):
		if g.Limiter != nil {
			g.Limiter.Fail(req.Client, streamKeyBucket, now)
		}
		return Decision{Reason: ReasonNotFound}
	case err != nil:
		return g.unavailable("", err)
	}
	// The store matched the key; the decision still compares it in
	// constant time like any key, and applies every other rule.
	byKey := Request{
		AliasID:    a.ID,
		Type:       req.Type,
		Need:       req.Need,
		Credential: Credential{Kind: KindStreamKey, Value: key},
		Client:     req.Client,
	}
	d := g.decideFor(ctx, a, &byKey, now)
	d.ByStreamKey = d.Admitted()
	return d
}

func (g *Gate) unavailable(aliasID string, err error) Decision {
	if g.Logger != nil {
		// Store errors name queries and hosts, never parameter values.
		g.Logger.Error("alias store unavailable", zap.String("alias", aliasID), zap.Error(err))
	}
	return Decision{Reason: ReasonUnavailable, RetryAfter: storeRetry}
}

// authenticate checks credential c against alias a and tells what it
// grants, or which rule refused it.
func (g *Gate) authenticate(ctx context.Context, a *alias.Alias, c Credential, now time.Time) (alias.Grant, Reason) {
	kind := c.Kind
	if kind == KindBearer {
		switch {
		case alias.LooksLikeJWT(c.Value):
			kind = KindJWT
		case strings.HasPrefix(c.Value, alias.OrgTokenPrefix):
			return g.owner(ctx, a, c.Value)
		default:
			kind = KindStreamKey
		}
	}
	switch kind {
	case KindOrganization:
		if c.Value != a.OrgID {
			return alias.Grant{}, ReasonForeignOrg
		}
		return alias.Grant{Role: alias.RoleOwner}, 0
	case KindJWT:
		return g.verifyJWT(a, c.Value, now)
	case KindStreamKey:
		// A passcode or stream key is presented anew: what it admits is
		// as old as the request, so a revocation of what was issued before
		// a moment ends what it admitted then, not the secret.
		if alias.CheckStreamKey(a, c.Value) {
			return alias.Grant{Role: alias.RolePublisher, IssuedAt: now}, 0
		}
		return alias.Grant{}, ReasonWrongStreamKey
	case KindPasscode:
		if alias.CheckPasscode(a, c.Value) {
			return alias.Grant{Role: alias.RoleViewer, IssuedAt: now}, 0
		}
		return alias.Grant{}, ReasonWrongPasscode
	}
	return alias.Grant{}, ReasonMalformedCredential
}

func (g *Gate) owner(ctx context.Context, a *alias.Alias, token string) (alias.Grant, Reason) {
	orgID, r := g.Organization(ctx, token)
	switch {
	case r != 0:
		return alias.Grant{}, r
	case orgID != a.OrgID:
		return alias.Grant{}, ReasonForeignOrg
	}
	return alias.Grant{Role: alias.RoleOwner}, 0
}

// Organization returns the organization an organization token belongs to,
// or why it does not open any.
func (g *Gate) Organization(ctx context.Context, token string) (string, Reason) {
	if token == "" {
		return "", ReasonNoCredential
	}
	h, ok := alias.ParseOrgToken(token)
	if !ok {
		return "", ReasonBadOrgToken
	}
	orgID, err := g.Source.OrgByToken(ctx, h)
	switch {
	case errors.Is(err, alias.ErrNotFound):
		return "", ReasonBadOrgToken
	case err != nil:
		g.unavailable("", err)
		return "", ReasonUnavailable
	}
	return orgID, 0
}

func (g *Gate) verifyJWT(a *alias.Alias, token string, now time.Time) (alias.Grant, Reason) {
	if g.Tokens != nil {
		if grant, ok := g.Tokens.Get(a, token, now); ok {
			return grant, 0
		}
	}
	grant, r := g.JWT.Verify(a, token)
	if r != 0 {
		return alias.Grant{}, r
	}
	if g.Tokens != nil {
		g.Tokens.Put(a, token, grant)
	}
	return grant, 0
}

// session returns the grant of a session cookie value, if it is valid for
// the alias.
func (g *Gate) session(a *alias.Alias, value string, now time.Time) (alias.Grant, bool) {
	// Every segment of a stream brings the same cookie: remember what it
	// proved, as for JWTs, instead of computing its MAC each time.
	if g.Tokens != nil {
		if grant, ok := g.Tokens.Get(a, value, now); ok {
			return grant, true
		}
	}
	signer := g.sessions()
	if signer == nil {
		return alias.Grant{}, false
	}
	grant, ok := signer.Verify(a, value, now)
	if ok && g.Tokens != nil {
		g.Tokens.Put(a, value, grant)
	}
	return grant, ok
}

// playback returns the grant of a playback token for a request under
// scope, or why it does not open the alias. Tokens are not remembered as
// cookies are: what a token proves depends on the path it came with, which
// the cache does not key by, and a check costs about a microsecond, once
// per segment.
func (g *Gate) playback(a *alias.Alias, value, scope string, now time.Time) (alias.Grant, Reason) {
	signer := g.sessions()
	if signer == nil {
		return alias.Grant{}, ReasonPlaybackTokenInvalid
	}
	return signer.VerifyPlayback(a, value, scope, now)
}

// sessions returns the session cookie signer, once the key is loaded.
func (g *Gate) sessions() *SessionSigner {
	if s := g.signer.Load(); s != nil {
		return s
	}
	if g.SessionKey == nil {
		return nil
	}
	key := g.SessionKey()
	if key == nil {
		return nil
	}
	g.signer.CompareAndSwap(nil, NewSessionSigner(key))
	return g.signer.Load()
}

// Throttled reports whether who has used up its failures at what, and for
// how long it must wait: the gate's limiter also counts guesses that are
// not credentials, such as an organization probing which stream keys
// other organizations use. what must not be an alias ID.
func (g *Gate) Throttled(who, what string) (time.Duration, bool) {
	if g.Limiter == nil {
		return 0, false
	}
	return g.Limiter.Blocked(who, what, g.now())
}

// Failed counts a failed guess of who at what; see Throttled.
func (g *Gate) Failed(who, what string) {
	if g.Limiter != nil {
		g.Limiter.Fail(who, what, g.now())
	}
}

// Time is the gate's clock, which its decisions' expiries are measured by.
func (g *Gate) Time() time.Time { return g.now() }

func (g *Gate) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}
