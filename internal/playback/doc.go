// Package playback plays protected HLS and DASH streams through the built
// binary with real players that keep no cookies: ffmpeg behind a proxy
// that strips every cookie, hls.js in Chromium on another site's page, and
// a plain HTTP client. The media are files
// Debian's ffmpeg writes with its HLS and DASH muxers, served by a
// recording upstream that also answers the awkward cases (compressed,
// oversized, chunked, malformed playlists) a media server may send.
package playback
