package gate

import (
	"time"

	"github.com/linkgate/linkgate/alias"
)

// Recheck decides whether an admission that outlives its request (a
// WebSocket, a long poll, a media session), admitted with decision d on a
// route of type typ (empty for both), may go on with the alias as it is
// now, a nil alias being one that is gone. It returns the reason to end
// it, or 0. An organization token's admissions end with the token, which
// is revoked as a token, not here.
func (g *Gate) Recheck(d *Decision, typ alias.Type, a *alias.Alias, now time.Time) Reason {
	switch {
	case a == nil:
		return ReasonNotFound
	case a.Expired(now):
		return ReasonExpired
	case typ != "" && a.Type != typ:
		return ReasonWrongType
	case d.Grant.Role == alias.RoleOwner:
		return 0
	case !a.EpochValid(d.Grant.Epoch, now):
		return ReasonCredentialChanged
	case a.Revoked(&d.Grant, now):
		return ReasonRevoked
	case !d.Grant.Expiry.IsZero() && !now.Before(d.Grant.Expiry):
		return ReasonTokenExpired
	}
	return 0
}
