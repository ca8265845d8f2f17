// Package hooks holds end-to-end tests of the media-server hooks
// (alias_hooks) through a real Caddy: the bodies MediaMTX, SRS, nginx-rtmp
// and OvenMediaEngine post, answered from aliases made through the API.
package hooks
