package alias

import "time"

// Role is what a credential lets its holder do with an alias.
type Role uint8

// The roles, from least to most. Publishing and hosting are separate
// rights, not steps of one ladder: see Allows.
const (
	RoleNone Role = iota
	RoleViewer
	RolePublisher
	RoleHost
	RoleOwner
)

var roleNames = [...]string{"", "viewer", "publisher", "host", "owner"}

func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return ""
}

// Requirement is what a route asks of a credential.
type Requirement uint8

// The requirements of alias_auth's require subdirective.
const (
	RequireViewer Requirement = iota
	RequirePublish
	RequireHost
)

var requirementNames = [...]string{RequireViewer: "viewer", RequirePublish: "publish", RequireHost: "host"}

func (q Requirement) String() string {
	if int(q) < len(requirementNames) {
		return requirementNames[q]
	}
	return ""
}

// ParseRequirement reads a requirement by its name: viewer, publish or
// host.
func ParseRequirement(s string) (Requirement, bool) {
	for q, name := range requirementNames {
		if s == name {
			return Requirement(q), true
		}
	}
	return 0, false
}

// Allows reports whether role r meets requirement q: any role views;
// publishers, hosts and owners publish; hosts and owners host.
func (r Role) Allows(q Requirement) bool {
	switch q {
	case RequireViewer:
		return r != RoleNone
	case RequirePublish:
		return r == RolePublisher || r == RoleHost || r == RoleOwner
	case RequireHost:
		return r == RoleHost || r == RoleOwner
	}
	return false
}

// Grant is what a verified credential proved.
type Grant struct {
	Role Role
	User string
	// Expiry is when the credential stops being valid; zero means it lasts
	// as long as the alias does.
	Expiry time.Time
	// IssuedAt is when the credential was made: a JWT's iat, a session's
	// creation; zero when unknown, which a revocation of everything issued
	// before a moment counts as before it.
	IssuedAt time.Time
	// JTI is the ID of the JWT the grant comes from, directly or through a
	// session cookie.
	JTI string
	// Epoch is the alias's credential epoch the grant was proved under: the
	// current one, or the previous one during a rotation's grace period.
	Epoch int64
}
