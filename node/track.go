package node

import (
	"context"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/linkgate/linkgate/alias"
)

// Admission is something admitted that outlives its request: a WebSocket,
// a long poll, a media server's session. The node that holds it ends it
// when its right to exist ends: the credential expires, the alias changes
// or goes, a revocation or a revoked organization token refuses it.
type Admission struct {
	// AliasID is the alias it was admitted to.
	AliasID string
	// Kind names it for metrics: websocket, stream, mediamtx, srs.
	Kind string
	// TokenHash is the hex SHA-256 of the organization token that admitted
	// it, if one did: the token's revocation ends it.
	TokenHash string
	// Until is when it ends at the latest (its credential's expiry, the
	// alias's); zero for never.
	Until time.Time
	// Check decides whether it may go on with the alias as it is now (nil
	// when the alias is gone): it returns the reason to end it, or "" and
	// when it must end at the latest now.
	Check func(a *alias.Alias, now time.Time) (reason string, until time.Time)
	// End ends it for the reason Check gave, or ReasonExpired when Until
	// came. It is called at most once, never while the node's lock is
	// held, and must not block for long.
	End func(reason string)

	timer *time.Timer
	ended bool
}

// ReasonExpired ends an admission whose Until has come.
const ReasonExpired = "expired"

// ReasonTokenRevoked ends an admission whose organization token was
// revoked.
const ReasonTokenRevoked = "token_revoked"

// tracker holds a node's admissions, by alias and by organization token.
type tracker struct {
	mu      sync.Mutex
	byAlias map[string]map[*Admission]struct{}
	byToken map[string]map[*Admission]struct{}
}

// Track holds ad until the returned function is called, which the caller
// does when the admission ends by itself. Until then, ad is ended if its
// right to exist ends on this node's watch.
func (n *Node) Track(ad *Admission) (untrack func()) {
	t := &n.tracked
	t.mu.Lock()
	if t.byAlias == nil {
		t.byAlias, t.byToken = map[string]map[*Admission]struct{}{}, map[string]map[*Admission]struct{}{}
	}
	add(t.byAlias, ad.AliasID, ad)
	if ad.TokenHash != "" {
		add(t.byToken, ad.TokenHash, ad)
	}
	n.scheduleLocked(ad, ad.Until)
	t.mu.Unlock()
	if n.events.TrackedOpen != nil {
		n.events.TrackedOpen(ad.Kind, 1)
	}
	return func() { n.untrack(ad, "") }
}

func add(m map[string]map[*Admission]struct{}, key string, ad *Admission) {
	set := m[key]
	if set == nil {
		set = map[*Admission]struct{}{}
		m[key] = set
	}
	set[ad] = struct{}{}
}

func remove(m map[string]map[*Admission]struct{}, key string, ad *Admission) {
	if set := m[key]; set != nil {
		delete(set, ad)
		if len(set) == 0 {
			delete(m, key)
		}
	}
}

// scheduleLocked ends ad at until, instead of when it was to end; the
// tracker's lock is held.
func (n *Node) scheduleLocked(ad *Admission, until time.Time) {
	if ad.timer != nil {
		ad.timer.Stop()
		ad.timer = nil
	}
	ad.Until = until
	if !until.IsZero() {
		ad.timer = time.AfterFunc(time.Until(until), func() { n.end(ad, ReasonExpired) })
	}
}

// untrack forgets ad; it reports whether ad was still tracked, and tells
// the events that it ended for reason, unless reason is empty (it ended
// by itself).
func (n *Node) untrack(ad *Admission, reason string) bool {
	t := &n.tracked
	t.mu.Lock()
	if ad.ended {
		t.mu.Unlock()
		return false
	}
	ad.ended = true
	remove(t.byAlias, ad.AliasID, ad)
	if ad.TokenHash != "" {
		remove(t.byToken, ad.TokenHash, ad)
	}
	if ad.timer != nil {
		ad.timer.Stop()
	}
	t.mu.Unlock()
	if n.events.TrackedOpen != nil {
		n.events.TrackedOpen(ad.Kind, -1)
	}
	if reason != "" && n.events.TrackedEnded != nil {
		n.events.TrackedEnded(ad.Kind, reason)
	}
	return true
}

// end ends ad for reason, once.
func (n *Node) end(ad *Admission, reason string) {
	if n.untrack(ad, reason) {
		ad.End(reason)
	}
}

// Tracked is how many admissions the node holds.
func (n *Node) Tracked() int {
	t := &n.tracked
	t.mu.Lock()
	defer t.mu.Unlock()
	count := 0
	for _, set := range t.byAlias {
		count += len(set)
	}
	return count
}

// recheckAlias checks every admission to the alias against the alias as
// the store has it now, and ends those that may not go on. A store that
// does not answer ends nothing: a database outage must not cut viewers.
func (n *Node) recheckAlias(id string) {
	t := &n.tracked
	t.mu.Lock()
	set := t.byAlias[id]
	if len(set) == 0 {
		t.mu.Unlock()
		return
	}
	ads := make([]*Admission, 0, len(set))
	for ad := range set {
		ads = append(ads, ad)
	}
	t.mu.Unlock()
	// From the store, not the cache: a load that began before the change
	// could still hand the cache's callers the alias as it was.
	b, err := n.Backend()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.QueryTimeout)
	defer cancel()
	var a *alias.Alias
	switch got, err := b.Alias(ctx, id); {
	case errors.Is(err, alias.ErrNotFound):
	case err != nil:
		return
	default:
		got.Prepare()
		a = &got
	}
	now := time.Now()
	for _, ad := range ads {
		reason, until := ad.Check(a, now)
		if reason != "" {
			n.end(ad, reason)
			continue
		}
		t.mu.Lock()
		if !ad.ended && !until.Equal(ad.Until) {
			n.scheduleLocked(ad, until)
		}
		t.mu.Unlock()
	}
}

// recheckAll rechecks every admission, by its alias and by the
// organization token that admitted it: after a flush, when what changed
// is not known.
func (n *Node) recheckAll() {
	t := &n.tracked
	t.mu.Lock()
	ids := make([]string, 0, len(t.byAlias))
	for id := range t.byAlias {
		ids = append(ids, id)
	}
	tokens := make([]string, 0, len(t.byToken))
	for h := range t.byToken {
		tokens = append(tokens, h)
	}
	t.mu.Unlock()
	for _, id := range ids {
		n.recheckAlias(id)
	}
	for _, h := range tokens {
		n.recheckToken(h)
	}
}

// recheckToken ends the admissions of an organization token that no
// longer opens anything.
func (n *Node) recheckToken(hashHex string) {
	t := &n.tracked
	t.mu.Lock()
	set := t.byToken[hashHex]
	ads := make([]*Admission, 0, len(set))
	for ad := range set {
		ads = append(ads, ad)
	}
	t.mu.Unlock()
	if len(ads) == 0 {
		return
	}
	var h alias.TokenHash
	if _, err := hex.Decode(h[:], []byte(hashHex)); err != nil {
		return
	}
	b, err := n.Backend()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.QueryTimeout)
	defer cancel()
	if _, err := b.OrgByToken(ctx, h); !errors.Is(err, alias.ErrNotFound) {
		return
	}
	for _, ad := range ads {
		n.end(ad, ReasonTokenRevoked)
	}
}
