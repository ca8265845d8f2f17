// Package kick holds end-to-end tests of the sessions alias_hooks ends
// through a media server's API: the built binary on the embedded store,
// asked by MediaMTX and SRS as they ask (internal/mediaapi posts their
// hooks and serves their APIs with the published shapes), ending sessions
// when aliases are deleted or re-keyed and users revoked.
package kick
