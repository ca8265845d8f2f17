package manifest

import "testing"

func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		contentType, path string
		want              Kind
	}{
		{"application/vnd.apple.mpegurl", "/live/x/index.m3u8", HLS},
		{"application/vnd.apple.mpegurl", "/live/x/playlist", HLS},
		{"Application/VND.Apple.MPEGURL; charset=utf-8", "/live/x/p", HLS},
		{"application/x-mpegURL", "/p", HLS},
		{"audio/mpegurl", "/radio.m3u", HLS},
		{" audio/x-mpegurl ;charset=UTF-8", "/radio", HLS},
		{"application/dash+xml", "/live/x/manifest.mpd", DASH},
		{"application/dash+xml;profiles=\"urn:mpeg:dash:profile:isoff-live:2011\"", "/live/x/stream", DASH},

		// No type, or one that says nothing: the name decides.
		{"", "/live/x/index.m3u8", HLS},
		{"", "/live/x/INDEX.M3U8", HLS},
		{"application/octet-stream", "/live/x/index.m3u8", HLS},
		{"binary/octet-stream", "/live/x/manifest.mpd", DASH},
		{"text/plain; charset=utf-8", "/live/x/index.m3u8", HLS},
		{"application/xml", "/live/x/manifest.mpd", DASH},
		{"text/xml", "/live/x/Manifest.MPD", DASH},
		{"", "/live/x/seg1.ts", None},
		{"", "/live/x/index.m3u8.bak", None},

		// A definite other type wins over the name.
		{"video/mp2t", "/live/x/index.m3u8", None},
		{"video/mp4", "/live/x/manifest.mpd", None},
		{"application/json", "/live/x/index.m3u8", None},
		{"text/html; charset=utf-8", "/live/x/index.m3u8", None},
		{"application/vnd.apple.mpegurl", "/live/x/manifest.mpd", HLS},
		{"application/dash+xml", "/live/x/index.m3u8", DASH},
	} {
		if got := KindOf(tc.contentType, tc.path); got != tc.want {
			t.Errorf("KindOf(%q, %q) = %v, want %v", tc.contentType, tc.path, got, tc.want)
		}
	}
}
