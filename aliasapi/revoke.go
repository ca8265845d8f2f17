package aliasapi

import (
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/gate"
)

// inForce is what revoke and the listing answer: the revocations in force
// on an alias, and the JWT secrets that verify tokens now. A replaced
// secret is shown by its kid and the end of its grace, never by value.
type inForce struct {
	Alias       string           `json:"alias"`
	Revocations []revocationView `json:"revocations"`
	JWTSecrets  []jwtSecretView  `json:"jwt_secrets"`
}

type revocationView struct {
	UserID    *string `json:"user_id,omitempty"`
	JTI       *string `json:"jti,omitempty"`
	Before    *int64  `json:"before,omitempty"`
	CreatedAt int64   `json:"created_at"`
	ExpiresAt int64   `json:"expires_at"`
}

type jwtSecretView struct {
	KID     string `json:"kid"`
	Current bool   `json:"current"`
	// Until is when a replaced secret stops verifying tokens.
	Until *int64 `json:"until,omitempty"`
}

func inForceOf(a *alias.Alias, revocations []alias.Revocation, now time.Time) inForce {
	v := inForce{Alias: a.ID, Revocations: make([]revocationView, 0, len(revocations)), JWTSecrets: []jwtSecretView{}}
	for _, r := range revocations {
		rv := revocationView{CreatedAt: r.CreatedAt.Unix(), ExpiresAt: r.ExpiresAt.Unix()}
		switch r.Kind {
		case alias.RevokeUser:
			rv.UserID = &r.Value
		case alias.RevokeJTI:
			rv.JTI = &r.Value
		case alias.RevokeBefore:
			before := r.Before.Unix()
			rv.Before = &before
		}
		v.Revocations = append(v.Revocations, rv)
	}
	if a.JWTSecret != "" {
		v.JWTSecrets = append(v.JWTSecrets, jwtSecretView{KID: alias.KeyID(a.JWTSecret), Current: true})
	}
	if a.InGrace(now) {
		until := a.Previous.Until.Unix()
		v.JWTSecrets = append(v.JWTSecrets, jwtSecretView{KID: alias.KeyID(a.Previous.JWTSecret), Until: &until})
	}
	return v
}

// revoke records a revocation on one of the organization's aliases: a
// user, a jti, or everything issued before a moment, refused on every node
// from the next change notice on, and kept until no credential it could
// match can still be valid.
func (api *API) revoke(w http.ResponseWriter, r *http.Request, id string) {
	orgID, ok := api.organization(w, r)
	if !ok {
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	now := api.Gate.Time()
	rev, err := alias.DecodeRevocation(body, now)
	if err != nil {
		writeInputError(w, err)
		return
	}
	if !alias.ValidID(id) {
		gate.WriteError(w, http.StatusNotFound, "alias_not_found", "alias not found")
		return
	}
	ttl := api.RevocationTTL
	if ttl <= 0 {
		ttl = DefaultRevocationTTL
	}
	rev.ExpiresAt = now.Add(ttl)
	if rev.Kind == alias.RevokeBefore && rev.Before.After(now) {
		rev.ExpiresAt = rev.Before.Add(ttl)
	}
	ctx, cancel := api.storeContext(r)
	defer cancel()
	in, err := api.Store.Revoke(ctx, orgID, id, rev, alias.MaxRevocations)
	switch {
	case errors.Is(err, alias.ErrNotFound):
		gate.WriteError(w, http.StatusNotFound, "alias_not_found", "alias not found")
		return
	case errors.Is(err, alias.ErrTooManyRevocations):
		gate.WriteError(w, http.StatusConflict, "too_many_revocations",
			`the alias has as many revocations in force as it may until some expire; a "before" still re-keys everyone`)
		return
	case err != nil:
		api.storeFailed(w, "revoke", err)
		return
	}
	api.Logger.Info("alias revocation", zap.String("alias", id), zap.String("org", orgID), zap.String("kind", string(rev.Kind)))
	api.writeInForce(w, r, id, in, now)
}

// revocations lists what is in force on one of the organization's aliases.
func (api *API) revocations(w http.ResponseWriter, r *http.Request, id string) {
	orgID, ok := api.organization(w, r)
	if !ok {
		return
	}
	if !alias.ValidID(id) {
		gate.WriteError(w, http.StatusNotFound, "alias_not_found", "alias not found")
		return
	}
	ctx, cancel := api.storeContext(r)
	defer cancel()
	in, err := api.Store.Revocations(ctx, orgID, id)
	switch {
	case errors.Is(err, alias.ErrNotFound):
		gate.WriteError(w, http.StatusNotFound, "alias_not_found", "alias not found")
		return
	case err != nil:
		api.storeFailed(w, "list revocations", err)
		return
	}
	api.writeInForce(w, r, id, in, api.Gate.Time())
}

func (api *API) writeInForce(w http.ResponseWriter, r *http.Request, id string, in []alias.Revocation, now time.Time) {
	ctx, cancel := api.storeContext(r)
	defer cancel()
	a, err := api.Store.Alias(ctx, id)
	switch {
	case errors.Is(err, alias.ErrNotFound):
		gate.WriteError(w, http.StatusNotFound, "alias_not_found", "alias not found")
		return
	case err != nil:
		api.storeFailed(w, "read alias", err)
		return
	}
	gate.WriteJSON(w, http.StatusOK, struct {
		Data inForce `json:"data"`
	}{inForceOf(&a, in, now)})
}
