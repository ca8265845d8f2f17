package caddymodule

import (
	"sync"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/gate"
)

// authUserID is the {http.auth.user.id} of an admission, the user_id that
// Caddy's access log shows: the JWT's user_id when the credential named a
// user, otherwise <role>:<alias ID> (viewer:k3v9x0q2m7ab for a passcode or
// a public alias, publisher:… for a stream key, owner:… for an
// organization token), so that every admitted request shows who was let
// in. Neither part is a credential.
//
// The values are kept, so that the gateway's success path allocates
// nothing for them.
func authUserID(d *gate.Decision, id *gate.Identity) any {
	if d.Grant.User != "" {
		return id.UserValue
	}
	key := anonymousUser{alias: d.Alias.ID, role: d.Grant.Role}
	anonymousUsers.RLock()
	v, ok := anonymousUsers.m[key]
	anonymousUsers.RUnlock()
	if ok {
		return v
	}
	v = d.Grant.Role.String() + ":" + d.Alias.ID
	anonymousUsers.Lock()
	if len(anonymousUsers.m) >= maxAnonymousUsers {
		clear(anonymousUsers.m)
	}
	anonymousUsers.m[key] = v
	anonymousUsers.Unlock()
	return v
}

type anonymousUser struct {
	alias string
	role  alias.Role
}

// anonymousUsers stays bounded, since aliases come and go.
var anonymousUsers = struct {
	sync.RWMutex
	m map[anonymousUser]any
}{m: make(map[anonymousUser]any)}

const maxAnonymousUsers = 100_000
