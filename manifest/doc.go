// Package manifest rewrites HLS playlists and DASH manifests so that every
// URI that leads back to the gateway carries a playback token as a query
// parameter.
//
// A browser that was admitted with a passcode or a JWT keeps the gateway's
// session cookie and sends it with every segment request. Many players keep
// no cookies at all: smart-TV and set-top players, Chromecast receivers,
// ffmpeg and other command-line tools, and players embedded in third-party
// pages (where the cookie is a blocked third-party cookie). They fetch the
// playlist with the credential in its URL and then every segment, key and
// sub-playlist without it. Putting a short-lived token into each URI of the
// playlist the gateway returns lets those requests prove admission too.
//
// Only URIs that resolve to the origin the client used are touched: relative
// references and absolute http(s) URIs naming that origin. Segments on a CDN
// or another host, FairPlay skd:// and data: key URIs keep every byte, so
// the token never reaches a third party. Everything else in the document is
// copied unchanged; rewriting is a lexical pass, never a parse and re-print,
// so a player sees exactly what the media server wrote plus the parameter.
//
// Malformed input is reported as an error, never a panic: the caller then
// forwards the body untouched, which is what it would have done without this
// package.
package manifest
