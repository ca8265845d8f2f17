package manifest

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// benchRewriter carries a token of a realistic length: a signed playback
// token is some 40 bytes of claims and MAC, 64 characters in base64url.
func benchRewriter() *Rewriter {
	return &Rewriter{
		Param:  "lgt",
		Token:  strings.Repeat("eyJhIjoiYWJjIn0_-", 4)[:64],
		Origin: &url.URL{Scheme: "https", Host: "gw.example"},
	}
}

// liveMedia is a 10-segment live media playlist as a packager writes one
// every segment: fMP4 with an initialization section and date-time tags.
var liveMedia = func() string {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:41230\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	b.WriteString("#EXT-X-MAP:URI=\"720p_init.mp4\"\n")
	for i := range 10 {
		fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:2026-03-01T12:%02d:%02d.000Z\n#EXTINF:2.00000,\n720p_seg%d.mp4\n", i/30, 2*i%60, 41230+i)
	}
	return b.String()
}()

// multivariant is a six-variant multivariant playlist with an audio
// rendition.
var multivariant = func() string {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	b.WriteString("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",LANGUAGE=\"en\",NAME=\"English\",AUTOSELECT=YES,DEFAULT=YES,URI=\"audio/index.m3u8\"\n")
	for _, v := range []struct {
		bw     int
		res    string
		codecs string
	}{
		{8000000, "1920x1080", "avc1.640028"}, {5000000, "1920x1080", "avc1.640028"}, {3000000, "1280x720", "avc1.64001f"},
		{1500000, "854x480", "avc1.64001e"}, {800000, "640x360", "avc1.4d401e"}, {400000, "426x240", "avc1.4d4015"},
	} {
		h := strings.Split(v.res, "x")[1]
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d,CODECS=\"%s,mp4a.40.2\",RESOLUTION=%s,FRAME-RATE=30.000,AUDIO=\"aac\"\n%sp_%d/index.m3u8\n", v.bw, v.codecs, v.res, h, v.bw/1000)
	}
	return b.String()
}()

// liveMPD is a two-period live MPD with three video and one audio
// representation on SegmentTemplate and SegmentTimeline.
var liveMPD = `<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="dynamic" availabilityStartTime="2026-03-01T12:00:00Z" publishTime="2026-03-01T12:10:00Z" minimumUpdatePeriod="PT2S" minBufferTime="PT2S" timeShiftBufferDepth="PT30S" maxSegmentDuration="PT2S">
	<Period id="0" start="PT0S">
		<AdaptationSet id="0" contentType="video" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1">
			<SegmentTemplate timescale="90000" initialization="video/$RepresentationID$/init.mp4" media="video/$RepresentationID$/$Time$.m4s">
				<SegmentTimeline>
					<S t="54000000" d="180000" r="14" />
				</SegmentTimeline>
			</SegmentTemplate>
			<Representation id="1080p" codecs="avc1.640028" bandwidth="6000000" width="1920" height="1080" />
			<Representation id="720p" codecs="avc1.64001f" bandwidth="3000000" width="1280" height="720" />
			<Representation id="480p" codecs="avc1.64001e" bandwidth="1500000" width="854" height="480" />
		</AdaptationSet>
		<AdaptationSet id="1" contentType="audio" mimeType="audio/mp4" lang="en" segmentAlignment="true">
			<AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="2" />
			<SegmentTemplate timescale="48000" initialization="audio/$RepresentationID$/init.mp4" media="audio/$RepresentationID$/$Time$.m4s">
				<SegmentTimeline>
					<S t="28800000" d="96000" r="14" />
				</SegmentTimeline>
			</SegmentTemplate>
			<Representation id="aac" codecs="mp4a.40.2" bandwidth="128000" audioSamplingRate="48000" />
		</AdaptationSet>
	</Period>
	<UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-xsdate:2014" value="https://time.example/iso" />
</MPD>
`

// benchmark rewrites doc with dst left nil (one allocation for the output)
// and with dst reused from the previous round, as a pooled buffer is.
func benchmark(b *testing.B, doc string, rewrite func(rw *Rewriter, dst, src []byte) ([]byte, error)) {
	rw := benchRewriter()
	src := []byte(doc)
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			if _, err := rewrite(rw, nil, src); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reuse", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(src)))
		var dst []byte
		for b.Loop() {
			var err error
			if dst, err = rewrite(rw, dst[:0], src); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkHLSMedia(b *testing.B)        { benchmark(b, liveMedia, (*Rewriter).HLS) }
func BenchmarkHLSMultivariant(b *testing.B) { benchmark(b, multivariant, (*Rewriter).HLS) }
func BenchmarkDASH(b *testing.B)            { benchmark(b, liveMPD, (*Rewriter).DASH) }

// TestAllocations holds the rewriters to their allocation contract: one
// allocation, for the output, when dst has no room; none when it has.
func TestAllocations(t *testing.T) {
	rw := benchRewriter()
	for _, tc := range []struct {
		name    string
		doc     string
		rewrite func(rw *Rewriter, dst, src []byte) ([]byte, error)
		uris    int
	}{
		{"HLS media", liveMedia, (*Rewriter).HLS, 11},
		{"HLS multivariant", multivariant, (*Rewriter).HLS, 7},
		{"DASH", liveMPD, (*Rewriter).DASH, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := []byte(tc.doc)
			out, err := tc.rewrite(rw, nil, src)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Count(string(out), rw.Token); got != tc.uris {
				t.Fatalf("%d URIs carry the token, want %d", got, tc.uris)
			}
			if n := testing.AllocsPerRun(100, func() { _, _ = tc.rewrite(rw, nil, src) }); n != 1 {
				t.Errorf("%v allocations with a nil dst, want 1", n)
			}
			if n := testing.AllocsPerRun(100, func() { out, _ = tc.rewrite(rw, out[:0], src) }); n != 0 {
				t.Errorf("%v allocations with a dst that has room, want 0", n)
			}
		})
	}
}
