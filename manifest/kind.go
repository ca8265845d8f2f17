package manifest

import (
	"strings"
)

// Kind is the format of a response body: something else, an HLS playlist or
// a DASH manifest.
type Kind uint8

// The kinds KindOf tells apart.
const (
	None Kind = iota
	HLS
	DASH
)

// String returns the format's usual name.
func (k Kind) String() string {
	switch k {
	case HLS:
		return "HLS"
	case DASH:
		return "DASH"
	}
	return "none"
}

// KindOf tells from a response's Content-Type and its request's path whether
// the body is a playlist to rewrite. A media type names the format in any
// case and with any parameters. A Content-Type that names some other definite
// type (video/mp2t for a segment, application/json for an API answer) wins
// over the name, so a segment is never read as a playlist; an empty or
// generic one (octet-stream, text/plain, plain XML), which servers without a
// mapping for the extension send, leaves the decision to a path ending in
// .m3u8 or .mpd.
func KindOf(contentType, path string) Kind {
	mediaType, _, _ := strings.Cut(contentType, ";")
	mediaType = strings.TrimSpace(mediaType)
	for _, t := range hlsTypes {
		if strings.EqualFold(mediaType, t) {
			return HLS
		}
	}
	if strings.EqualFold(mediaType, "application/dash+xml") {
		return DASH
	}
	generic := mediaType == ""
	for _, t := range genericTypes {
		generic = generic || strings.EqualFold(mediaType, t)
	}
	switch {
	case !generic:
		return None
	case hasSuffixFold(path, ".m3u8"):
		return HLS
	case hasSuffixFold(path, ".mpd"):
		return DASH
	}
	return None
}

// hlsTypes are the media types RFC 8216 registers or accepts for playlists,
// and the older audio ones players still send and servers still answer.
var hlsTypes = [...]string{
	"application/vnd.apple.mpegurl",
	"application/x-mpegurl",
	"audio/mpegurl",
	"audio/x-mpegurl",
}

// genericTypes say nothing about the body beyond "bytes", "text" or "XML".
var genericTypes = [...]string{
	"application/octet-stream",
	"binary/octet-stream",
	"text/plain",
	"application/xml",
	"text/xml",
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}
