package aliasapi

import "github.com/linkgate/linkgate/alias"

// aliasView is an alias as the API shows it: every key always present, null
// when unset or hidden from the caller.
type aliasView struct {
	ID         string     `json:"id"`
	Type       alias.Type `json:"type"`
	Name       *string    `json:"name"`
	Passcode   *string    `json:"passcode"`
	JWTSecret  *string    `json:"jwt_secret"`
	StreamKey  *string    `json:"stream_key"`
	ExpiredAt  int64      `json:"expired_at"`
	InsertedAt int64      `json:"inserted_at"`
}

// viewOf shows a to a caller with role: owners see every secret, hosts the
// passcode and stream key, everyone else none.
func viewOf(a *alias.Alias, role alias.Role) aliasView {
	v := aliasView{
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
