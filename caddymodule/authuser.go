package caddymodule

import (
	"sync"

	"github.com/caddyserver/caddy/v2"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/gate"
)

// setIdentityPlaceholders gives {http.linkgate.alias}, .role and .user,
// and {http.auth.user.id}, .alias and .role as Caddy's own authentication
// handlers set them for its access log, the identity of an admission.
//
// The first admission of a request answers them when they are asked for,
// rather than setting them: six values set into the request's replacer
// map, which reverse_proxy fills with twenty-odd of its own, made the map
// grow a size on every request (2 µs and 2 KiB), for placeholders most
// requests never read. A second admission of the same request (two
// alias_auth on one route) sets them, since set values come before
// answered ones: the last admission's identity is the one shown, as with
// the identity headers.
func setIdentityPlaceholders(repl *caddy.Replacer, d *gate.Decision, id *gate.Identity) {
	if _, again := repl.Get("http.linkgate.alias"); !again {
		repl.Map(identityPlaceholders(d, id))
		return
	}
	setEachIdentityPlaceholder(repl, d, id)
}

// setEachIdentityPlaceholder sets the identity placeholders of an
// admission into repl, one value each.
func setEachIdentityPlaceholder(repl *caddy.Replacer, d *gate.Decision, id *gate.Identity) {
	p := identityPlaceholders(d, id)
	for _, key := range identityPlaceholderKeys {
		v, _ := p(key)
		repl.Set(key, v)
	}
}

var identityPlaceholderKeys = []string{
	"http.linkgate.alias", "http.linkgate.role", "http.linkgate.user",
	"http.auth.user.id", "http.auth.user.alias", "http.auth.user.role",
}

// identityPlaceholders answers the identity placeholders of an admission.
func identityPlaceholders(d *gate.Decision, id *gate.Identity) caddy.ReplacerFunc {
	aliasValue, roleValue, userValue := id.AliasValue, id.RoleValue, id.UserValue
	aliasID, role, named := d.Alias.ID, d.Grant.Role, d.Grant.User != ""
	return func(key string) (any, bool) {
		switch key {
		case "http.linkgate.alias", "http.auth.user.alias":
			return aliasValue, true
		case "http.linkgate.role", "http.auth.user.role":
			return roleValue, true
		case "http.linkgate.user":
			return userValue, true
		case "http.auth.user.id":
			if named {
				return userValue, true
			}
			return anonymousUserID(aliasID, role), true
		}
		return nil, false
	}
}

// anonymousUserID is the {http.auth.user.id} of an admission whose
// credential named no user, the user_id that Caddy's access log shows:
// <role>:<alias ID> (viewer:k3v9x0q2m7ab for a passcode or a public alias,
// publisher:… for a stream key, owner:… for an organization token), so
// that every admitted request shows who was let in. Neither part is a
// credential. The values are kept, so that an access log line allocates
// nothing for them.
func anonymousUserID(aliasID string, role alias.Role) any {
	key := anonymousUser{alias: aliasID, role: role}
	anonymousUsers.RLock()
	v, ok := anonymousUsers.m[key]
	anonymousUsers.RUnlock()
	if ok {
		return v
	}
	v = role.String() + ":" + aliasID
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
