package manifest

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// golden expands {T} in a want string to the parameter with the token, so
// that expected outputs stay exact and still read like playlists.
func golden(s string) string {
	return strings.ReplaceAll(s, "{T}", added)
}

// hlsCases are playlists as media servers and packagers write them, most
// after the examples and tag definitions of RFC 8216 and its low-latency
// successor, with the exact output expected for the origin https://gw.example.
var hlsCases = []struct {
	name, in, want string
}{{
	name: "live media playlist with byte ranges, discontinuity and date-time",
	in: `#EXTM3U
#EXT-X-VERSION:4
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:1041
#EXT-X-DISCONTINUITY-SEQUENCE:3
#EXT-X-PROGRAM-DATE-TIME:2026-03-01T12:00:00.000Z
#EXTINF:2.000,
seg1041.ts
#EXTINF:2.000,
#EXT-X-BYTERANGE:75232@0
media.ts
#EXT-X-DISCONTINUITY
#EXTINF:2.000,
#EXT-X-BYTERANGE:82112
media.ts
`,
	want: `#EXTM3U
#EXT-X-VERSION:4
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:1041
#EXT-X-DISCONTINUITY-SEQUENCE:3
#EXT-X-PROGRAM-DATE-TIME:2026-03-01T12:00:00.000Z
#EXTINF:2.000,
seg1041.ts?{T}
#EXTINF:2.000,
#EXT-X-BYTERANGE:75232@0
media.ts?{T}
#EXT-X-DISCONTINUITY
#EXTINF:2.000,
#EXT-X-BYTERANGE:82112
media.ts?{T}
`,
}, {
	name: "low-latency media playlist: parts, preload hints, rendition reports",
	in: `#EXTM3U
# This Playlist is a response to: GET https://gw.example/live/x/2M/waitForMSN.php?_HLS_msn=273&_HLS_part=2
#EXT-X-TARGETDURATION:4
#EXT-X-VERSION:6
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.0,CAN-SKIP-UNTIL=24.0
#EXT-X-PART-INF:PART-TARGET=0.33334
#EXT-X-MEDIA-SEQUENCE:266
#EXT-X-PROGRAM-DATE-TIME:2019-02-14T02:13:36.106Z
#EXT-X-MAP:URI="init.mp4"
#EXTINF:4.00008,
fileSequence266.mp4
#EXTINF:4.00008,
fileSequence267.mp4
#EXT-X-PART:DURATION=0.33334,URI="filePart268.0.mp4",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.33334,URI="filePart268.1.mp4"
#EXTINF:4.00008,
fileSequence268.mp4
#EXT-X-PART:DURATION=0.33334,URI="fileSequence269.mp4",BYTERANGE="20000@0",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.33334,URI="fileSequence269.mp4",BYTERANGE="23000"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="fileSequence269.mp4",BYTERANGE-START=43000
#EXT-X-PRELOAD-HINT:TYPE=MAP,URI="init2.mp4"

#EXT-X-RENDITION-REPORT:URI="../1M/waitForMSN.php",LAST-MSN=269,LAST-PART=1
#EXT-X-RENDITION-REPORT:URI="../4M/waitForMSN.php",LAST-MSN=269,LAST-PART=1
`,
	want: `#EXTM3U
# This Playlist is a response to: GET https://gw.example/live/x/2M/waitForMSN.php?_HLS_msn=273&_HLS_part=2
#EXT-X-TARGETDURATION:4
#EXT-X-VERSION:6
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.0,CAN-SKIP-UNTIL=24.0
#EXT-X-PART-INF:PART-TARGET=0.33334
#EXT-X-MEDIA-SEQUENCE:266
#EXT-X-PROGRAM-DATE-TIME:2019-02-14T02:13:36.106Z
#EXT-X-MAP:URI="init.mp4?{T}"
#EXTINF:4.00008,
fileSequence266.mp4?{T}
#EXTINF:4.00008,
fileSequence267.mp4?{T}
#EXT-X-PART:DURATION=0.33334,URI="filePart268.0.mp4?{T}",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.33334,URI="filePart268.1.mp4?{T}"
#EXTINF:4.00008,
fileSequence268.mp4?{T}
#EXT-X-PART:DURATION=0.33334,URI="fileSequence269.mp4?{T}",BYTERANGE="20000@0",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.33334,URI="fileSequence269.mp4?{T}",BYTERANGE="23000"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="fileSequence269.mp4?{T}",BYTERANGE-START=43000
#EXT-X-PRELOAD-HINT:TYPE=MAP,URI="init2.mp4?{T}"

#EXT-X-RENDITION-REPORT:URI="../1M/waitForMSN.php?{T}",LAST-MSN=269,LAST-PART=1
#EXT-X-RENDITION-REPORT:URI="../4M/waitForMSN.php?{T}",LAST-MSN=269,LAST-PART=1
`,
}, {
	name: "low-latency delta update, URIs with delivery directives and query parameters",
	in: `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:4
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=24.0,PART-HOLD-BACK=1.002
#EXT-X-PART-INF:PART-TARGET=0.334
#EXT-X-MEDIA-SEQUENCE:266
#EXT-X-SKIP:SKIPPED-SEGMENTS=3
#EXTINF:4.00008,
fileSequence269.mp4?sid=9f2
#EXT-X-PART:DURATION=0.334,URI="lowLatencyHLS.php?segment=filePart270.0.mp4",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="lowLatencyHLS.php?segment=filePart270.1.mp4"
#EXT-X-RENDITION-REPORT:URI="../1M/lowLatencyHLS.php?_HLS_msn=270&_HLS_part=0",LAST-MSN=270,LAST-PART=0
#EXT-X-RENDITION-REPORT:URI="../4M/lowLatencyHLS.php?_HLS_msn=270&_HLS_part=0&_HLS_skip=YES",LAST-MSN=270,LAST-PART=0
`,
	want: `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:4
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=24.0,PART-HOLD-BACK=1.002
#EXT-X-PART-INF:PART-TARGET=0.334
#EXT-X-MEDIA-SEQUENCE:266
#EXT-X-SKIP:SKIPPED-SEGMENTS=3
#EXTINF:4.00008,
fileSequence269.mp4?sid=9f2&{T}
#EXT-X-PART:DURATION=0.334,URI="lowLatencyHLS.php?segment=filePart270.0.mp4&{T}",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="lowLatencyHLS.php?segment=filePart270.1.mp4&{T}"
#EXT-X-RENDITION-REPORT:URI="../1M/lowLatencyHLS.php?_HLS_msn=270&_HLS_part=0&{T}",LAST-MSN=270,LAST-PART=0
#EXT-X-RENDITION-REPORT:URI="../4M/lowLatencyHLS.php?_HLS_msn=270&_HLS_part=0&_HLS_skip=YES&{T}",LAST-MSN=270,LAST-PART=0
`,
}, {
	name: "multivariant playlist: renditions, I-frame streams, session data and keys",
	in: `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-CONTENT-STEERING:SERVER-URI="/steering?video=00012",PATHWAY-ID="CDN"
#EXT-X-SESSION-DATA:DATA-ID="com.example.title",VALUE="Keynote, live"
#EXT-X-SESSION-DATA:DATA-ID="com.example.lyrics",URI="lyrics.json"
#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="skd://key65",KEYFORMAT="com.apple.streamingkeydelivery",KEYFORMATVERSIONS="1"
#EXT-X-SESSION-KEY:METHOD=AES-128,URI="keys/session.key"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",LANGUAGE="en",NAME="English",AUTOSELECT=YES,DEFAULT=YES,URI="audio/en/index.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",LANGUAGE="de",NAME="Deutsch",AUTOSELECT=YES,DEFAULT=NO,URI="https://cdn.example/audio/de/index.m3u8"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="en",NAME="English",AUTOSELECT=YES,URI="subs/en/index.m3u8"
#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",LANGUAGE="en",NAME="English",INSTREAM-ID="CC1"
#EXT-X-STREAM-INF:BANDWIDTH=6000000,AVERAGE-BANDWIDTH=5400000,CODECS="avc1.640028,mp4a.40.2",RESOLUTION=1920x1080,FRAME-RATE=30.000,AUDIO="aac",SUBTITLES="subs",CLOSED-CAPTIONS="cc"
1080p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=3000000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,AUDIO="aac",SUBTITLES="subs",CLOSED-CAPTIONS="cc"
720p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=1500000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=854x480,AUDIO="aac",SUBTITLES="subs",CLOSED-CAPTIONS="cc"
480p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.4d401e,mp4a.40.2",RESOLUTION=640x360,AUDIO="aac",SUBTITLES="subs",CLOSED-CAPTIONS="cc"
/live/x/360p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=400000,CODECS="avc1.4d4015,mp4a.40.2",RESOLUTION=426x240,AUDIO="aac",SUBTITLES="subs",CLOSED-CAPTIONS="cc"
https://gw.example/live/x/240p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS="mp4a.40.2",AUDIO="aac"
https://cdn.example/live/x/audio-only/index.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=186000,CODECS="avc1.640028",RESOLUTION=1920x1080,URI="1080p/iframes.m3u8"
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=56000,CODECS="avc1.4d401e",RESOLUTION=640x360,URI="//gw.example/live/x/360p/iframes.m3u8"
`,
	want: `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-CONTENT-STEERING:SERVER-URI="/steering?video=00012",PATHWAY-ID="CDN"
#EXT-X-SESSION-DATA:DATA-ID="com.example.title",VALUE="Keynote, live"
#EXT-X-SESSION-DATA:DATA-ID="com.example.lyrics",URI="lyrics.json?{T}"
#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="skd://key65",KEYFORMAT="com.apple.streamingkeydelivery",KEYFORMATVERSIONS="1"
#EXT-X-SESSION-KEY:METHOD=AES-128,URI="keys/session.key?{T}"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",LANGUAGE="en",NAME="English",AUTOSELECT=YES,DEFAULT=YES,URI="audio/en/index.m3u8?{T}"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",LANGUAGE="de",NAME="Deutsch",AUTOSELECT=YES,DEFAULT=NO,URI="https://cdn.example/audio/de/index.m3u8"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="en",NAME="English",AUTOSELECT=YES,URI="subs/en/index.m3u8?{T}"
#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",LANGUAGE="en",NAME="English",INSTREAM-ID="CC1"
#EXT-X-STREAM-INF:BANDWIDTH=6000000,AVERAGE-BANDWIDTH=5400000,CODECS="avc1.640028,mp4a.40.2",RESOLUTION=1920x1080,FRAME-RATE=30.000,AUDIO="aac",SUBTITLES="subs",CLOSED-CAPTIONS="cc"
1080p/index.m3u8?{T}
#EXT-X-STREAM-INF:BANDWIDTH=3000000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,AUDIO="aac",SUBTITLES="subs",CLOSED-CAPTIONS="cc"
720p/index.m3u8?{T}
#EXT-X-STREAM-INF:BANDWIDTH=1500000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=854x480,AUDIO="aac",SUBTITLES="subs",CLOSED-CAPTIONS="cc"
480p/index.m3u8?{T}
#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.4d401e,mp4a.40.2",RESOLUTION=640x360,AUDIO="aac",SUBTITLES="subs",CLOSED-CAPTIONS="cc"
/live/x/360p/index.m3u8?{T}
#EXT-X-STREAM-INF:BANDWIDTH=400000,CODECS="avc1.4d4015,mp4a.40.2",RESOLUTION=426x240,AUDIO="aac",SUBTITLES="subs",CLOSED-CAPTIONS="cc"
https://gw.example/live/x/240p/index.m3u8?{T}
#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS="mp4a.40.2",AUDIO="aac"
https://cdn.example/live/x/audio-only/index.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=186000,CODECS="avc1.640028",RESOLUTION=1920x1080,URI="1080p/iframes.m3u8?{T}"
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=56000,CODECS="avc1.4d401e",RESOLUTION=640x360,URI="//gw.example/live/x/360p/iframes.m3u8?{T}"
`,
}, {
	name: "keys: relative and same-origin ones get the token, skd:, data: and other hosts do not",
	in: `#EXTM3U
#EXT-X-TARGETDURATION:6
#EXT-X-KEY:METHOD=AES-128,URI="keys/k1.bin",IV=0x1A2B3C4D5E6F708192A3B4C5D6E7F801
#EXTINF:6,
s1.ts
#EXT-X-KEY:METHOD=AES-128,URI="https://gw.example/keys/k2.bin?rotation=2"
#EXTINF:6,
s2.ts
#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://twelve",KEYFORMAT="com.apple.streamingkeydelivery",KEYFORMATVERSIONS="1"
#EXT-X-KEY:METHOD=SAMPLE-AES,URI="data:text/plain;base64,AAAAPHBzc2gAAAAA7e+LqXnWSs6jyCfc1R0h7QAAABwIARIQ",KEYFORMAT="urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"
#EXTINF:6,
s3.ts
#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example/k4.bin"
#EXTINF:6,
s4.ts
#EXT-X-KEY:METHOD=NONE
#EXTINF:6,
s5.ts
`,
	want: `#EXTM3U
#EXT-X-TARGETDURATION:6
#EXT-X-KEY:METHOD=AES-128,URI="keys/k1.bin?{T}",IV=0x1A2B3C4D5E6F708192A3B4C5D6E7F801
#EXTINF:6,
s1.ts?{T}
#EXT-X-KEY:METHOD=AES-128,URI="https://gw.example/keys/k2.bin?rotation=2&{T}"
#EXTINF:6,
s2.ts?{T}
#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://twelve",KEYFORMAT="com.apple.streamingkeydelivery",KEYFORMATVERSIONS="1"
#EXT-X-KEY:METHOD=SAMPLE-AES,URI="data:text/plain;base64,AAAAPHBzc2gAAAAA7e+LqXnWSs6jyCfc1R0h7QAAABwIARIQ",KEYFORMAT="urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"
#EXTINF:6,
s3.ts?{T}
#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example/k4.bin"
#EXTINF:6,
s4.ts?{T}
#EXT-X-KEY:METHOD=NONE
#EXTINF:6,
s5.ts?{T}
`,
}, {
	name: "comments, blank lines and unknown tags stay as they are",
	in: `#EXTM3U

# written by an encoder: URI="not-a-tag.ts"
#EXT-X-TARGETDURATION:2
#EXT-X-UNKNOWN-VENDOR-TAG:URI="vendor.bin"
#EXT-X-DATERANGE:ID="ad1",START-DATE="2026-03-01T12:00:00Z",X-ASSET-URI="https://ads.example/a.m3u8"
#EXTINF:2,title, URI="x"

a.ts
#EXT-X-GAP
#EXTINF:2,
b.ts
   
#EXT-X-ENDLIST`,
	want: `#EXTM3U

# written by an encoder: URI="not-a-tag.ts"
#EXT-X-TARGETDURATION:2
#EXT-X-UNKNOWN-VENDOR-TAG:URI="vendor.bin"
#EXT-X-DATERANGE:ID="ad1",START-DATE="2026-03-01T12:00:00Z",X-ASSET-URI="https://ads.example/a.m3u8"
#EXTINF:2,title, URI="x"

a.ts?{T}
#EXT-X-GAP
#EXTINF:2,
b.ts?{T}
   
#EXT-X-ENDLIST`,
}, {
	name: "CRLF line endings",
	in:   "#EXTM3U\r\n#EXT-X-TARGETDURATION:2\r\n#EXT-X-MAP:URI=\"init.mp4\"\r\n#EXTINF:2,\r\nseg1.m4s\r\n#EXTINF:2,\r\nseg2.m4s\r\n",
	want: "#EXTM3U\r\n#EXT-X-TARGETDURATION:2\r\n#EXT-X-MAP:URI=\"init.mp4?{T}\"\r\n#EXTINF:2,\r\nseg1.m4s?{T}\r\n#EXTINF:2,\r\nseg2.m4s?{T}\r\n",
}, {
	name: "mixed line endings and no final newline",
	in:   "#EXTM3U\n#EXTINF:2,\r\nseg1.ts\n#EXTINF:2,\nseg2.ts\r\n#EXTINF:2,\nseg3.ts",
	want: "#EXTM3U\n#EXTINF:2,\r\nseg1.ts?{T}\n#EXTINF:2,\nseg2.ts?{T}\r\n#EXTINF:2,\nseg3.ts?{T}",
}, {
	name: "UTF-8 byte order mark",
	in:   "\xEF\xBB\xBF#EXTM3U\n#EXTINF:2,\nseg1.ts\n",
	want: "\xEF\xBB\xBF#EXTM3U\n#EXTINF:2,\nseg1.ts?{T}\n",
}, {
	name: "absolute URIs: only the origin's scheme, host and port",
	in: `#EXTM3U
https://gw.example/live/x/a.ts
https://gw.example:443/live/x/b.ts
HTTPS://GW.Example/live/x/c.ts
https://gw.example:/live/x/d.ts
https://gw.example
//gw.example/live/x/e.ts
https:///gw.example/live/x/f.ts
https://gw.example:8443/live/x/g.ts
http://gw.example/live/x/h.ts
http://gw.example:443/live/x/i.ts
https://cdn.example/live/x/j.ts
//cdn.example/live/x/k.ts
https://gw.example.cdn.example/l.ts
https://user@gw.example/m.ts
https://gw.example@cdn.example/n.ts
https://[::1]/o.ts
ftp://gw.example/p.ts
`,
	want: `#EXTM3U
https://gw.example/live/x/a.ts?{T}
https://gw.example:443/live/x/b.ts?{T}
HTTPS://GW.Example/live/x/c.ts?{T}
https://gw.example:/live/x/d.ts?{T}
https://gw.example?{T}
//gw.example/live/x/e.ts?{T}
https:///gw.example/live/x/f.ts?{T}
https://gw.example:8443/live/x/g.ts
http://gw.example/live/x/h.ts
http://gw.example:443/live/x/i.ts
https://cdn.example/live/x/j.ts
//cdn.example/live/x/k.ts
https://gw.example.cdn.example/l.ts
https://user@gw.example/m.ts
https://gw.example@cdn.example/n.ts
https://[::1]/o.ts
ftp://gw.example/p.ts
`,
}, {
	// Browsers read a backslash as a slash in http(s) URLs and delete tabs
	// and line breaks, so these name another host for some reader.
	name: "references that a URL parser may read as another host",
	in: "#EXTM3U\n" +
		`\\cdn.example\a.ts` + "\n" +
		`/\cdn.example/b.ts` + "\n" +
		`///cdn.example/c.ts` + "\n" +
		`https:\\cdn.example\d.ts` + "\n" +
		"/\t/cdn.example/e.ts\n" +
		"ht\ttps://cdn.example/f.ts\n" +
		`https://gw.example\@cdn.example/g.ts` + "\n",
	want: "#EXTM3U\n" +
		`\\cdn.example\a.ts` + "\n" +
		`/\cdn.example/b.ts` + "\n" +
		`///cdn.example/c.ts` + "\n" +
		`https:\\cdn.example\d.ts` + "\n" +
		"/\t/cdn.example/e.ts\n" +
		"ht\ttps://cdn.example/f.ts\n" +
		`https://gw.example\@cdn.example/g.ts?{T}` + "\n",
}, {
	name: "queries and fragments",
	in: `#EXTM3U
a.ts?
b.ts?x=1&
c.ts?x=1&y=
d.ts#t=10
e.ts?x=1#t=10
f.ts?#
?only=query
#frag-only-is-a-comment
 g.ts 
	h.ts	
`,
	want: `#EXTM3U
a.ts?{T}
b.ts?x=1&{T}
c.ts?x=1&y=&{T}
d.ts?{T}#t=10
e.ts?x=1&{T}#t=10
f.ts?{T}#
?only=query&{T}
#frag-only-is-a-comment
 g.ts?{T} 
	h.ts?{T}	
`,
}, {
	name: "a parameter already there gets the token as its value",
	in: `#EXTM3U
#EXT-X-MAP:URI="init.mp4?lgt=stale"
a.ts?lgt=stale
b.ts?x=1&lgt=stale&y=2
c.ts?lgt
d.ts?lgt=
e.ts?lgt=one&lgt=two
f.ts?xlgt=1&lgtx=2
g.ts?lgt=stale#lgt=frag
https://cdn.example/h.ts?lgt=theirs
`,
	want: `#EXTM3U
#EXT-X-MAP:URI="init.mp4?{T}"
a.ts?{T}
b.ts?x=1&{T}&y=2
c.ts?{T}
d.ts?{T}
e.ts?{T}&{T}
f.ts?xlgt=1&lgtx=2&{T}
g.ts?{T}#lgt=frag
https://cdn.example/h.ts?lgt=theirs
`,
}, {
	name: "variable substitution is left alone",
	in: `#EXTM3U
#EXT-X-VERSION:8
#EXT-X-DEFINE:NAME="cdn",VALUE="https://cdn.example"
#EXT-X-DEFINE:QUERYPARAM="sid"
#EXT-X-MAP:URI="{$cdn}/init.mp4"
#EXTINF:2,
{$cdn}/seg1.m4s
#EXTINF:2,
seg2.m4s?sid={$sid}
#EXTINF:2,
seg3.m4s
`,
	want: `#EXTM3U
#EXT-X-VERSION:8
#EXT-X-DEFINE:NAME="cdn",VALUE="https://cdn.example"
#EXT-X-DEFINE:QUERYPARAM="sid"
#EXT-X-MAP:URI="{$cdn}/init.mp4"
#EXTINF:2,
{$cdn}/seg1.m4s
#EXTINF:2,
seg2.m4s?sid={$sid}
#EXTINF:2,
seg3.m4s?{T}
`,
}, {
	name: "attribute lists: spaces, unquoted values, several URI attributes",
	in: `#EXTM3U
#EXT-X-MAP: URI ="init.mp4" ,BYTERANGE="720@0"
#EXT-X-KEY:METHOD=AES-128,URI=key.bin,IV=0x1
#EXT-X-MEDIA:TYPE=AUDIO,NAME="a,URI=fake",GROUP-ID="g",URI="a.m3u8"
#EXT-X-PART:URI="",DURATION=1
#EXT-X-PART:DURATION=1,URI="p.mp4",
`,
	want: `#EXTM3U
#EXT-X-MAP: URI ="init.mp4?{T}" ,BYTERANGE="720@0"
#EXT-X-KEY:METHOD=AES-128,URI=key.bin?{T},IV=0x1
#EXT-X-MEDIA:TYPE=AUDIO,NAME="a,URI=fake",GROUP-ID="g",URI="a.m3u8?{T}"
#EXT-X-PART:URI="",DURATION=1
#EXT-X-PART:DURATION=1,URI="p.mp4?{T}",
`,
}}

func TestHLS(t *testing.T) {
	rw := testRewriter()
	for _, tc := range hlsCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rw.HLS(nil, []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if want := golden(tc.want); string(got) != want {
				t.Errorf("got:\n%s\nwant:\n%s\n%s", got, want, firstDiff(want, string(got)))
			}
		})
	}
}

func TestHLSOrigins(t *testing.T) {
	const in = "#EXTM3U\nrel.ts\nhttp://gw.example:8080/a.ts\nhttp://gw.example/b.ts\nhttps://[2001:db8::1]:8443/c.ts\nhttps://[2001:DB8::1]:8443/d.ts\n//gw.example:8080/e.ts\n"
	for _, tc := range []struct {
		origin string
		want   string
	}{
		{"http://gw.example:8080", "#EXTM3U\nrel.ts?{T}\nhttp://gw.example:8080/a.ts?{T}\nhttp://gw.example/b.ts\nhttps://[2001:db8::1]:8443/c.ts\nhttps://[2001:DB8::1]:8443/d.ts\n//gw.example:8080/e.ts?{T}\n"},
		{"http://gw.example", "#EXTM3U\nrel.ts?{T}\nhttp://gw.example:8080/a.ts\nhttp://gw.example/b.ts?{T}\nhttps://[2001:db8::1]:8443/c.ts\nhttps://[2001:DB8::1]:8443/d.ts\n//gw.example:8080/e.ts\n"},
		{"https://[2001:db8::1]:8443", "#EXTM3U\nrel.ts?{T}\nhttp://gw.example:8080/a.ts\nhttp://gw.example/b.ts\nhttps://[2001:db8::1]:8443/c.ts?{T}\nhttps://[2001:DB8::1]:8443/d.ts?{T}\n//gw.example:8080/e.ts\n"},
		{"", "#EXTM3U\nrel.ts?{T}\nhttp://gw.example:8080/a.ts\nhttp://gw.example/b.ts\nhttps://[2001:db8::1]:8443/c.ts\nhttps://[2001:DB8::1]:8443/d.ts\n//gw.example:8080/e.ts\n"},
	} {
		t.Run(tc.origin, func(t *testing.T) {
			rw := testRewriter()
			rw.Origin = nil
			if tc.origin != "" {
				o, err := url.Parse(tc.origin)
				if err != nil {
					t.Fatal(err)
				}
				rw.Origin = o
			}
			got, err := rw.HLS(nil, []byte(in))
			if err != nil {
				t.Fatal(err)
			}
			if want := golden(tc.want); string(got) != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestHLSErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		rw       *Rewriter
	}{
		{"empty", "", nil},
		{"no header", "#EXTINF:2,\nseg.ts\n", nil},
		{"header too late", "\n#EXTM3U\nseg.ts\n", nil},
		{"an HTML error page", "<html><body>502 Bad Gateway</body></html>", nil},
		{"carriage return without line feed", "#EXTM3U\rseg1.ts\rseg2.ts\r", nil},
		{"unterminated quoted string", "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin\n", nil},
		{"text after a quoted string", "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"x\n", nil},
		{"attribute without a value", "#EXTM3U\n#EXT-X-MAP:BYTERANGE,URI=\"init.mp4\"\n", nil},
		{"quote in a name", "#EXTM3U\n#EXT-X-MAP:A\"=1,URI=\"init.mp4\"\n", nil},
		{"quote in an unquoted value", "#EXTM3U\n#EXT-X-MAP:A=1\"2,URI=\"init.mp4\"\n", nil},
		{"space before a quoted string", "#EXTM3U\n#EXT-X-MAP:URI= \"init.mp4\"\n", nil},
		{"no parameter name", "#EXTM3U\nseg.ts\n", &Rewriter{Token: testToken}},
		{"parameter name that needs escaping", "#EXTM3U\nseg.ts\n", &Rewriter{Param: "a&b", Token: testToken}},
		{"no token", "#EXTM3U\nseg.ts\n", &Rewriter{Param: testParam}},
		{"token outside base64url", "#EXTM3U\nseg.ts\n", &Rewriter{Param: testParam, Token: "ab+/="}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rw := tc.rw
			if rw == nil {
				rw = testRewriter()
			}
			dst := []byte("kept")
			got, err := rw.HLS(dst, []byte(tc.in))
			if err == nil {
				t.Fatalf("no error; output:\n%s", got)
			}
			if string(got) != "kept" {
				t.Errorf("dst became %q on error, want it as given", got)
			}
			var se *SyntaxError
			if tc.rw == nil && (!errors.As(err, &se) || se.Kind != HLS) {
				t.Errorf("error %v is not an HLS SyntaxError", err)
			}
		})
	}
}

// TestHLSAppends checks the append contract: the output follows what dst
// held, and goes into dst's array when it has room for the bound.
func TestHLSAppends(t *testing.T) {
	rw := testRewriter()
	in := []byte(hlsCases[1].in)
	want := "prefix:" + golden(hlsCases[1].want)
	dst := make([]byte, 0, len("prefix:")+len(in)+strings.Count(string(in), "\n")*(len("&amp;")+len(added)))
	dst = append(dst, "prefix:"...)
	got, err := rw.HLS(dst, in)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("got %q", got)
	}
	if &got[0] != &dst[0] {
		t.Error("output did not reuse dst's array although it had room")
	}
}
