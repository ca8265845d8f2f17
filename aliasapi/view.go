package aliasapi

import "github.com/linkgate/linkgate/alias"

// AliasView is an alias as the API shows it: every key always present, null
// when unset or hidden from the caller.
type AliasView struct {
	ID         string     `json:"id"`
	Type       alias.Type `json:"type"`
	Name       *string    `json:"name"`
	Passcode   *string    `json:"passcode"`
	JWTSecret  *string    `json:"jwt_secret"`
	StreamKey  *string    `json:"stream_key"`
	ExpiredAt  int64      `json:"expired_at"`
	InsertedAt int64      `json:"inserted_at"`
}

// AliasEnvelope is the body of an answer about one alias.
type AliasEnvelope struct {
	Data AliasView `json:"data"`
}

// AliasPage is the body of a listing: a page of aliases, and the cursor of
// the next page (null after the last).
type AliasPage struct {
	After   *string         `json:"after"`
	Entries []AliasEnvelope `json:"entries"`
}

// viewOf shows a to a caller with role: owners see every secret, hosts the
// passcode and stream key, everyone else none.
func viewOf(a *alias.Alias, role alias.Role) AliasView {
	v := AliasView{
		ID:         a.ID,
		Type:       a.Type,
		Name:       nullable(a.Name),
		ExpiredAt:  a.ExpiredAt.Unix(),
		InsertedAt: a.InsertedAt.Unix(),
	}
	switch role {
	case alias.RoleOwner:
		v.JWTSecret = nullable(a.JWTSecret)
		fallthrough
	case alias.RoleHost:
		v.Passcode = nullable(a.Passcode)
		v.StreamKey = nullable(a.StreamKey)
	}
	return v
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
