package gate

import (
	"time"

	"github.com/linkgate/linkgate/alias"
)

// Standing is what an admission that outlives its request (a WebSocket,
// a long poll, a media session) may do with the alias as it is now.
type Standing struct {
	// End is the reason to end it now, or 0 if it may go on.
	End Reason
	// Until is when it must end at the latest, and Then the reason it ends
	// for then: the alias's expiry, the credential's, or the end of the
	// grace of a replaced secret it was admitted under.
	Until time.Time
	Then  Reason
}

// Recheck decides the standing of an admission made with decision d on a
// route of type typ (empty for both), against the alias as it is now, a
// nil alias being one that is gone. An organization token's admissions
// end with the token, which is revoked as a token, not here.
func (g *Gate) Recheck(d *Decision, typ alias.Type, a *alias.Alias, now time.Time) Standing {
	switch {
	case a == nil:
		return Standing{End: ReasonNotFound}
	case a.Expired(now):
		return Standing{End: ReasonExpired}
	case typ != "" && a.Type != typ:
		return Standing{End: ReasonWrongType}
	}
	s := Standing{Until: a.ExpiredAt, Then: ReasonExpired}
	grant := &d.Grant
	if grant.Role == alias.RoleOwner {
		return s
	}
	switch {
	case !a.EpochValid(grant.Role, grant.Epoch, now):
		return Standing{End: ReasonCredentialChanged}
	case a.Revoked(grant, now):
		return Standing{End: ReasonRevoked}
	case !grant.Expiry.IsZero() && !now.Before(grant.Expiry):
		return Standing{End: ReasonTokenExpired}
	}
	if !grant.Expiry.IsZero() && grant.Expiry.Before(s.Until) {
		s.Until, s.Then = grant.Expiry, ReasonTokenExpired
	}
	if grant.Epoch != a.EpochOf(grant.Role) && !s.Until.Before(a.GraceUntil()) {
		s.Until, s.Then = a.GraceUntil(), ReasonCredentialChanged
	}
	return s
}
