package gate

import (
	"net/http"
	"strings"
	"sync"

	"github.com/linkgate/linkgate/alias"
)

// Identity headers the upstream gets for an admitted request. Every
// X-Linkgate-* header a client sent is deleted first, so none can be
// forged.
const (
	IdentityHeaderPrefix = "X-Linkgate-"
	HeaderAlias          = "X-Linkgate-Alias"
	HeaderType           = "X-Linkgate-Type"
	HeaderRole           = "X-Linkgate-Role"
	HeaderUser           = "X-Linkgate-User"
)

// Identity is who an admission let in, as header values and as
// placeholder values. The values are shared by every request of an alias
// or user and must not be written to.
type Identity struct {
	Alias, Type, Role, User []string
	// AliasValue, RoleValue and UserValue are the same strings already in
	// an interface, as placeholders take them.
	AliasValue, RoleValue, UserValue any
}

// IdentityOf returns the identity an admission proved.
func IdentityOf(d *Decision) Identity {
	a := identityOf(d.Alias.ID)
	id := Identity{
		Alias:      a.header,
		Type:       typeHeaders[d.Alias.Type],
		Role:       roleHeaders[d.Grant.Role],
		AliasValue: a.value,
		RoleValue:  roleValues[d.Grant.Role],
		User:       emptyHeader,
		UserValue:  "",
	}
	if d.Grant.User != "" {
		u := identityOf(d.Grant.User)
		id.User, id.UserValue = u.header, u.value
	}
	return id
}

// IdentityHeaders is a set of the identity headers an upstream is given.
type IdentityHeaders uint8

// The identity headers, one bit each.
const (
	IdentityAlias IdentityHeaders = 1 << iota
	IdentityType
	IdentityRole
	IdentityUser

	// AllIdentityHeaders is what an upstream gets unless told otherwise.
	AllIdentityHeaders = IdentityAlias | IdentityType | IdentityRole | IdentityUser
)

// identityHeaderNames are the names a configuration gives the identity
// headers: the header name without its X-Linkgate- prefix, in lower case.
var identityHeaderNames = map[string]IdentityHeaders{
	"alias": IdentityAlias,
	"type":  IdentityType,
	"role":  IdentityRole,
	"user":  IdentityUser,
}

// ParseIdentityHeader returns the identity header a configuration names:
// alias, type, role or user.
func ParseIdentityHeader(name string) (IdentityHeaders, bool) {
	h, ok := identityHeaderNames[name]
	return h, ok
}

// SetIdentityHeaders deletes every X-Linkgate-* header of r, then sets the
// identity headers of id that which holds. The deletion is unconditional:
// an upstream told nothing must not be told lies by the client either.
func SetIdentityHeaders(r *http.Request, id *Identity, which IdentityHeaders) {
	for name := range r.Header {
		if strings.HasPrefix(name, IdentityHeaderPrefix) {
			delete(r.Header, name)
		}
	}
	if which&IdentityAlias != 0 {
		r.Header[HeaderAlias] = id.Alias
	}
	if which&IdentityType != 0 {
		r.Header[HeaderType] = id.Type
	}
	if which&IdentityRole != 0 {
		r.Header[HeaderRole] = id.Role
	}
	if which&IdentityUser != 0 {
		r.Header[HeaderUser] = id.User
	}
}

// Header values and placeholder values that every request of an alias
// shares. They are built once: a header value is a one-element slice,
// capacity one, that nobody writes into (Header.Set replaces a slice,
// Header.Add appends to a full one, which copies it), and a placeholder
// value is the string already in an interface.
var (
	emptyHeader = []string{""}
	typeHeaders = map[alias.Type][]string{
		alias.TypeLive:       {string(alias.TypeLive)},
		alias.TypeConference: {string(alias.TypeConference)},
	}
	roleHeaders = [...][]string{
		alias.RoleNone:      emptyHeader,
		alias.RoleViewer:    {alias.RoleViewer.String()},
		alias.RolePublisher: {alias.RolePublisher.String()},
		alias.RoleHost:      {alias.RoleHost.String()},
		alias.RoleOwner:     {alias.RoleOwner.String()},
	}
	roleValues = [...]any{
		alias.RoleNone:      "",
		alias.RoleViewer:    alias.RoleViewer.String(),
		alias.RolePublisher: alias.RolePublisher.String(),
		alias.RoleHost:      alias.RoleHost.String(),
		alias.RoleOwner:     alias.RoleOwner.String(),
	}
)

// stringIdentity is an alias ID, or a user ID, as a header value and as a
// placeholder value: both are the string itself, so one table serves both.
type stringIdentity struct {
	header []string
	value  any
}

// identities remembers stringIdentity per alias or user ID; bounded, since
// IDs come and go.
var identities = struct {
	sync.RWMutex
	m map[string]stringIdentity
}{m: make(map[string]stringIdentity)}

const maxIdentities = 100_000

func identityOf(id string) stringIdentity {
	identities.RLock()
	ident, ok := identities.m[id]
	identities.RUnlock()
	if ok {
		return ident
	}
	ident = stringIdentity{header: []string{id}, value: id}
	identities.Lock()
	if len(identities.m) >= maxIdentities {
		clear(identities.m)
	}
	identities.m[id] = ident
	identities.Unlock()
	return ident
}
