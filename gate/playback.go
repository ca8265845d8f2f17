package gate

import (
	"github.com/linkgate/linkgate/alias"
)

// A playback token is a session carried in URLs instead of a cookie, for
// players that keep no cookies: smart-TV and set-top players, Chromecast
// receivers, ffmpeg, players in third-party frames whose cookies the
// browser blocks. The gateway puts one into every URI of the playlists and
// manifests it forwards (the lgt query parameter), so the segments, keys
// and variant playlists they lead to are admitted as the playlist was.
//
// It is signed like the session cookie, under the key every node shares,
// and carries the same things: alias, credential epoch, user, the jti and
// issue time of the credential it came from (so revocations match it), and
// an expiry no later than the credential's, the alias's and the route's
// session lifetime. It is bound to the path up to the alias ID, like the
// cookie's Path, and grants viewing only, whatever the credential granted:
// URLs end up in players' logs, bug reports and shared links, and one must
// not publish or host.

// PlaybackScope is the part of a request path a playback token is bound to:
// up to and including the segment that is the alias ID, or "/" when the
// alias ID is not a segment of the path.
func PlaybackScope(path, aliasID string) string {
	return aliasPath(path, aliasID)
}

// Playback reports whether playlists answered to admission d on the route
// carry playback tokens: not for a public alias, which needs none, nor for
// an owner, whose organization token is revoked as a token and must not
// live on in URLs.
func (route *Route) Playback(d *Decision) bool {
	return route.PlaybackTokens && route.SessionLifetime > 0 && d.Admitted() &&
		d.Reason != ReasonPublic && d.Grant.Role != alias.RoleOwner
}

// PlaybackToken returns the playback token for the playlists answered to
// admission d on the route, for requests under scope (see PlaybackScope);
// ok is false when none is to be issued (see Playback) or none can be: the
// session key is not loaded, the grant cannot be carried, the admission
// ends now. A token that opened the request comes back as it was, since
// the grant, the issue time and the expiry it carries are the same.
func (g *Gate) PlaybackToken(d *Decision, route *Route, scope string) (string, bool) {
	if !route.Playback(d) {
		return "", false
	}
	signer := g.sessions()
	if signer == nil {
		return "", false
	}
	now := g.now()
	expiry := now.Add(route.SessionLifetime)
	if d.Expiry.Before(expiry) {
		expiry = d.Expiry
	}
	if !expiry.After(now) {
		return "", false
	}
	grant := d.Grant
	grant.Role = alias.RoleViewer
	return signer.IssuePlayback(d.Alias, grant, scope, now, expiry)
}
