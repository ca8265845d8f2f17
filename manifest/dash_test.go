package manifest

import (
	"errors"
	"strings"
	"testing"
)

// dashCases are manifests as packagers write them, with the exact output
// expected for the origin https://gw.example.
var dashCases = []struct {
	name, in, want string
}{{
	name: "live MPD with SegmentTemplate and SegmentTimeline",
	in: `<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="dynamic" availabilityStartTime="2026-03-01T12:00:00Z" publishTime="2026-03-01T12:10:00Z" minimumUpdatePeriod="PT2S" minBufferTime="PT2S" timeShiftBufferDepth="PT30S">
	<Location>https://gw.example/live/x/manifest.mpd</Location>
	<Period id="0" start="PT0S">
		<AdaptationSet id="0" contentType="video" segmentAlignment="true" bitstreamSwitching="true" frameRate="25/1">
			<SegmentTemplate timescale="90000" initialization="init-$RepresentationID$.m4s" media="chunk-$RepresentationID$-$Time$.m4s">
				<SegmentTimeline>
					<S t="54000000" d="180000" r="14" />
				</SegmentTimeline>
			</SegmentTemplate>
			<Representation id="v1080" mimeType="video/mp4" codecs="avc1.640028" bandwidth="6000000" width="1920" height="1080" />
			<Representation id="v720" mimeType="video/mp4" codecs="avc1.64001f" bandwidth="3000000" width="1280" height="720" />
		</AdaptationSet>
		<AdaptationSet id="1" contentType="audio" lang="en">
			<Representation id="a0" mimeType="audio/mp4" codecs="mp4a.40.2" bandwidth="128000" audioSamplingRate="48000">
				<AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="2" />
				<SegmentTemplate timescale="48000" duration="96000" startNumber="300" initialization="audio/init.mp4" media="audio/seg-$Number%05d$.m4s" />
			</Representation>
		</AdaptationSet>
	</Period>
	<UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-xsdate:2014" value="https://gw.example/time" />
</MPD>
`,
	want: `<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="dynamic" availabilityStartTime="2026-03-01T12:00:00Z" publishTime="2026-03-01T12:10:00Z" minimumUpdatePeriod="PT2S" minBufferTime="PT2S" timeShiftBufferDepth="PT30S">
	<Location>https://gw.example/live/x/manifest.mpd?{T}</Location>
	<Period id="0" start="PT0S">
		<AdaptationSet id="0" contentType="video" segmentAlignment="true" bitstreamSwitching="true" frameRate="25/1">
			<SegmentTemplate timescale="90000" initialization="init-$RepresentationID$.m4s?{T}" media="chunk-$RepresentationID$-$Time$.m4s?{T}">
				<SegmentTimeline>
					<S t="54000000" d="180000" r="14" />
				</SegmentTimeline>
			</SegmentTemplate>
			<Representation id="v1080" mimeType="video/mp4" codecs="avc1.640028" bandwidth="6000000" width="1920" height="1080" />
			<Representation id="v720" mimeType="video/mp4" codecs="avc1.64001f" bandwidth="3000000" width="1280" height="720" />
		</AdaptationSet>
		<AdaptationSet id="1" contentType="audio" lang="en">
			<Representation id="a0" mimeType="audio/mp4" codecs="mp4a.40.2" bandwidth="128000" audioSamplingRate="48000">
				<AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="2" />
				<SegmentTemplate timescale="48000" duration="96000" startNumber="300" initialization="audio/init.mp4?{T}" media="audio/seg-$Number%05d$.m4s?{T}" />
			</Representation>
		</AdaptationSet>
	</Period>
	<UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-xsdate:2014" value="https://gw.example/time" />
</MPD>
`,
}, {
	name: "BaseURL at every level, relative",
	in: `<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT60S">
  <BaseURL>media/</BaseURL>
  <Period>
    <BaseURL>period-0/</BaseURL>
    <AdaptationSet mimeType="video/mp4">
      <Representation id="hd" bandwidth="4000000">
        <BaseURL>
          hd/
        </BaseURL>
        <SegmentTemplate media="$Number$.m4s" initialization="init.m4s" duration="2" />
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>`,
	want: `<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT60S">
  <BaseURL>media/?{T}</BaseURL>
  <Period>
    <BaseURL>period-0/?{T}</BaseURL>
    <AdaptationSet mimeType="video/mp4">
      <Representation id="hd" bandwidth="4000000">
        <BaseURL>
          hd/?{T}
        </BaseURL>
        <SegmentTemplate media="$Number$.m4s?{T}" initialization="init.m4s?{T}" duration="2" />
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>`,
}, {
	name: "SegmentList, SegmentBase, index and bitstream switching URIs",
	in: `<MPD type="static">
<Period>
<AdaptationSet>
<Representation id="list">
<SegmentList duration="4">
<Initialization sourceURL="list/init.mp4" range="0-861"/>
<BitstreamSwitching sourceURL="list/switch.mp4"/>
<SegmentURL media="list/s1.mp4" mediaRange="862-5000" index="list/s1.sidx" indexRange="862-903"/>
<SegmentURL media="list/s2.mp4"/>
<SegmentURL mediaRange="5001-9000"/>
</SegmentList>
</Representation>
<Representation id="base">
<BaseURL>base/video.mp4</BaseURL>
<SegmentBase indexRange="862-1000">
<Initialization range="0-861"/>
<RepresentationIndex sourceURL="base/video.sidx"/>
</SegmentBase>
</Representation>
<Representation id="template">
<SegmentTemplate media="t/$Number$.m4s" index="t/$Number$.sidx" bitstreamSwitching="t/switch.mp4" initialization="t/init.mp4"/>
</Representation>
</AdaptationSet>
</Period>
</MPD>`,
	want: `<MPD type="static">
<Period>
<AdaptationSet>
<Representation id="list">
<SegmentList duration="4">
<Initialization sourceURL="list/init.mp4?{T}" range="0-861"/>
<BitstreamSwitching sourceURL="list/switch.mp4?{T}"/>
<SegmentURL media="list/s1.mp4?{T}" mediaRange="862-5000" index="list/s1.sidx?{T}" indexRange="862-903"/>
<SegmentURL media="list/s2.mp4?{T}"/>
<SegmentURL mediaRange="5001-9000"/>
</SegmentList>
</Representation>
<Representation id="base">
<BaseURL>base/video.mp4?{T}</BaseURL>
<SegmentBase indexRange="862-1000">
<Initialization range="0-861"/>
<RepresentationIndex sourceURL="base/video.sidx?{T}"/>
</SegmentBase>
</Representation>
<Representation id="template">
<SegmentTemplate media="t/$Number$.m4s?{T}" index="t/$Number$.sidx?{T}" bitstreamSwitching="t/switch.mp4?{T}" initialization="t/init.mp4?{T}"/>
</Representation>
</AdaptationSet>
</Period>
</MPD>`,
}, {
	name: "single quotes, character references and queries",
	in: `<MPD type='static'>
<Period>
<AdaptationSet>
<SegmentTemplate media='seg-$Number$.m4s?a=1&amp;b=&quot;2&quot;' initialization="init.mp4&#63;v=3"/>
<Representation id="r1">
<BaseURL>r1/?sid=9&amp;</BaseURL>
<SegmentList>
<SegmentURL media="s1.mp4?lgt=stale&amp;x=1"/>
<SegmentURL media="s2.mp4?x=1&#38;lgt=stale"/>
<SegmentURL media="s3.mp4?&#108;gt=stale"/>
<SegmentURL media="s4.mp4#t=&amp;10"/>
<SegmentURL media="s5.mp4&#x23;t=10"/>
</SegmentList>
</Representation>
</AdaptationSet>
</Period>
</MPD>`,
	want: `<MPD type='static'>
<Period>
<AdaptationSet>
<SegmentTemplate media='seg-$Number$.m4s?a=1&amp;b=&quot;2&quot;&amp;{T}' initialization="init.mp4&#63;v=3&amp;{T}"/>
<Representation id="r1">
<BaseURL>r1/?sid=9&amp;{T}</BaseURL>
<SegmentList>
<SegmentURL media="s1.mp4?{T}&amp;x=1"/>
<SegmentURL media="s2.mp4?x=1&#38;{T}"/>
<SegmentURL media="s3.mp4?{T}"/>
<SegmentURL media="s4.mp4?{T}#t=&amp;10"/>
<SegmentURL media="s5.mp4?{T}&#x23;t=10"/>
</SegmentList>
</Representation>
</AdaptationSet>
</Period>
</MPD>`,
}, {
	name: "comments, CDATA and processing instructions are not markup to rewrite",
	in: `<?xml version="1.0"?>
<!-- <MPD><BaseURL>not-the-root.mp4</BaseURL></MPD> -->
<?packager name="x" media="ignored.mp4"?>
<MPD type="static">
  <ProgramInformation>
    <Title><![CDATA[<BaseURL>title.mp4</BaseURL> & more]]></Title>
  </ProgramInformation>
  <!-- <BaseURL>commented.mp4</BaseURL> -->
  <Period>
    <?segmenter <SegmentURL media="pi.mp4"/>?>
    <AdaptationSet>
      <Representation id="a">
        <BaseURL>a.mp4</BaseURL>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
<!-- trailing comment -->
`,
	want: `<?xml version="1.0"?>
<!-- <MPD><BaseURL>not-the-root.mp4</BaseURL></MPD> -->
<?packager name="x" media="ignored.mp4"?>
<MPD type="static">
  <ProgramInformation>
    <Title><![CDATA[<BaseURL>title.mp4</BaseURL> & more]]></Title>
  </ProgramInformation>
  <!-- <BaseURL>commented.mp4</BaseURL> -->
  <Period>
    <?segmenter <SegmentURL media="pi.mp4"/>?>
    <AdaptationSet>
      <Representation id="a">
        <BaseURL>a.mp4?{T}</BaseURL>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
<!-- trailing comment -->
`,
}, {
	name: "relative references under a CDN's BaseURL keep no token",
	in: `<MPD type="dynamic">
  <BaseURL>https://cdn.example/live/x/</BaseURL>
  <Location>manifest.mpd</Location>
  <Period>
    <AdaptationSet>
      <Representation id="cdn">
        <SegmentTemplate media="cdn/$Number$.m4s" initialization="cdn/init.mp4" />
      </Representation>
      <Representation id="back-home">
        <BaseURL>https://gw.example/live/x/hq/</BaseURL>
        <SegmentTemplate media="$Number$.m4s" initialization="https://cdn.example/init.mp4" />
      </Representation>
      <Representation id="still-cdn">
        <BaseURL>sub/</BaseURL>
        <SegmentTemplate media="$Number$.m4s" initialization="//gw.example/live/x/init.mp4" />
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>`,
	want: `<MPD type="dynamic">
  <BaseURL>https://cdn.example/live/x/</BaseURL>
  <Location>manifest.mpd</Location>
  <Period>
    <AdaptationSet>
      <Representation id="cdn">
        <SegmentTemplate media="cdn/$Number$.m4s" initialization="cdn/init.mp4" />
      </Representation>
      <Representation id="back-home">
        <BaseURL>https://gw.example/live/x/hq/?{T}</BaseURL>
        <SegmentTemplate media="$Number$.m4s?{T}" initialization="https://cdn.example/init.mp4" />
      </Representation>
      <Representation id="still-cdn">
        <BaseURL>sub/</BaseURL>
        <SegmentTemplate media="$Number$.m4s" initialization="//gw.example/live/x/init.mp4?{T}" />
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>`,
}, {
	name: "alternative BaseURLs: one on a CDN makes the level foreign",
	in: `<MPD type="static">
  <Period>
    <BaseURL serviceLocation="home">p/</BaseURL>
    <BaseURL serviceLocation="cdn">https://cdn.example/p/</BaseURL>
    <AdaptationSet>
      <SegmentTemplate media="$Number$.m4s" />
    </AdaptationSet>
  </Period>
  <Period>
    <BaseURL serviceLocation="a">q/</BaseURL>
    <BaseURL serviceLocation="b">https://gw.example/q/</BaseURL>
    <AdaptationSet>
      <SegmentTemplate media="$Number$.m4s" />
    </AdaptationSet>
  </Period>
</MPD>`,
	want: `<MPD type="static">
  <Period>
    <BaseURL serviceLocation="home">p/?{T}</BaseURL>
    <BaseURL serviceLocation="cdn">https://cdn.example/p/</BaseURL>
    <AdaptationSet>
      <SegmentTemplate media="$Number$.m4s" />
    </AdaptationSet>
  </Period>
  <Period>
    <BaseURL serviceLocation="a">q/?{T}</BaseURL>
    <BaseURL serviceLocation="b">https://gw.example/q/?{T}</BaseURL>
    <AdaptationSet>
      <SegmentTemplate media="$Number$.m4s?{T}" />
    </AdaptationSet>
  </Period>
</MPD>`,
}, {
	name: "prefixed elements, empty BaseURLs, attributes that are not URIs",
	in: `<mpd:MPD xmlns:mpd="urn:mpeg:dash:schema:mpd:2011" xmlns:xlink="http://www.w3.org/1999/xlink" type="dynamic">
  <mpd:BaseURL/>
  <mpd:PatchLocation ttl="60">patch.mpp?publishTime=2026-03-01T12:10:00Z</mpd:PatchLocation>
  <mpd:Period xlink:href="remote-period.xml" xlink:actuate="onLoad">
    <mpd:BaseURL></mpd:BaseURL>
    <mpd:AdaptationSet bitstreamSwitching="true">
      <mpd:SegmentTemplate mpd:media="prefixed-attribute.m4s" media="$Number$.m4s" />
      <mpd:SegmentURL mediaRange="0-99" />
    </mpd:AdaptationSet>
  </mpd:Period>
</mpd:MPD>`,
	want: `<mpd:MPD xmlns:mpd="urn:mpeg:dash:schema:mpd:2011" xmlns:xlink="http://www.w3.org/1999/xlink" type="dynamic">
  <mpd:BaseURL/>
  <mpd:PatchLocation ttl="60">patch.mpp?publishTime=2026-03-01T12:10:00Z&amp;{T}</mpd:PatchLocation>
  <mpd:Period xlink:href="remote-period.xml" xlink:actuate="onLoad">
    <mpd:BaseURL></mpd:BaseURL>
    <mpd:AdaptationSet bitstreamSwitching="true">
      <mpd:SegmentTemplate mpd:media="prefixed-attribute.m4s" media="$Number$.m4s?{T}" />
      <mpd:SegmentURL mediaRange="0-99" />
    </mpd:AdaptationSet>
  </mpd:Period>
</mpd:MPD>`,
}, {
	name: "byte order mark, CRLF and odd spacing inside tags",
	in:   "\xEF\xBB\xBF<?xml version=\"1.0\"?>\r\n<MPD\r\n\ttype = \"static\"\r\n>\r\n<Period><AdaptationSet><SegmentTemplate\r\n  media =\r\n 'v/$Number$.m4s'\r\n/></AdaptationSet></Period>\r\n</MPD >\r\n",
	want: "\xEF\xBB\xBF<?xml version=\"1.0\"?>\r\n<MPD\r\n\ttype = \"static\"\r\n>\r\n<Period><AdaptationSet><SegmentTemplate\r\n  media =\r\n 'v/$Number$.m4s?{T}'\r\n/></AdaptationSet></Period>\r\n</MPD >\r\n",
}}

func TestDASH(t *testing.T) {
	rw := testRewriter()
	for _, tc := range dashCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rw.DASH(nil, []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if want := golden(tc.want); string(got) != want {
				t.Errorf("got:\n%s\nwant:\n%s\n%s", got, want, firstDiff(want, string(got)))
			}
			if _, err := parseXML(string(got)); err != nil {
				t.Errorf("output is not well-formed: %v", err)
			}
		})
	}
}

func TestDASHErrors(t *testing.T) {
	deep := "<MPD>" + strings.Repeat("<a>", maxDepth) + strings.Repeat("</a>", maxDepth) + "</MPD>"
	for _, tc := range []struct {
		name, in string
	}{
		{"empty", ""},
		{"a playlist", "#EXTM3U\nseg.ts\n"},
		{"root is not MPD", `<html><body><BaseURL>x</BaseURL></body></html>`},
		{"DOCTYPE", `<!DOCTYPE MPD [<!ENTITY cdn "https://cdn.example/">]><MPD><BaseURL>&cdn;</BaseURL></MPD>`},
		{"comment inside BaseURL", `<MPD><BaseURL>a<!-- x -->b</BaseURL></MPD>`},
		{"CDATA inside BaseURL", `<MPD><BaseURL><![CDATA[a.mp4]]></BaseURL></MPD>`},
		{"element inside BaseURL", `<MPD><BaseURL><b>a.mp4</b></BaseURL></MPD>`},
		{"BaseURL after a template it applies to", `<MPD><Period><SegmentTemplate media="s.m4s"/><BaseURL>https://cdn.example/</BaseURL></Period></MPD>`},
		{"BaseURL after a child that used the base", `<MPD><Period><AdaptationSet><SegmentTemplate media="s.m4s"/></AdaptationSet><BaseURL>https://cdn.example/</BaseURL></Period></MPD>`},
		{"BaseURL after a Location", `<MPD><Location>m.mpd</Location><BaseURL>https://cdn.example/</BaseURL></MPD>`},
		{"unclosed root", `<MPD><Period>`},
		{"end tag that does not match", `<MPD><Period></AdaptationSet></MPD>`},
		{"second root", `<MPD/><MPD/>`},
		{"unknown entity in a URI", `<MPD><BaseURL>a&nbsp;b/</BaseURL></MPD>`},
		{"bare ampersand in a URI", `<MPD><Period><SegmentTemplate media="s.m4s?a=1&b=2"/></Period></MPD>`},
		{"reference to a character XML forbids", `<MPD><Period><SegmentTemplate media="s&#0;.m4s"/></Period></MPD>`},
		{"reference beyond Unicode", `<MPD><Period><SegmentTemplate media="s&#x110000;.m4s"/></Period></MPD>`},
		{"attribute without quotes", `<MPD type=static></MPD>`},
		{"attribute without a value", `<MPD static></MPD>`},
		{"< in an attribute value", `<MPD a="<"></MPD>`},
		{"unterminated attribute value", `<MPD a="x></MPD>`},
		{"unterminated comment", `<MPD><!-- </MPD>`},
		{"unterminated start tag", `<MPD type="static"`},
		{"element without a name", `<MPD>< Period/></MPD>`},
		{"nested too deep", deep},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("kept")
			got, err := testRewriter().DASH(dst, []byte(tc.in))
			if err == nil {
				t.Fatalf("no error; output:\n%s", got)
			}
			if string(got) != "kept" {
				t.Errorf("dst became %q on error, want it as given", got)
			}
			var se *SyntaxError
			if !errors.As(err, &se) || se.Kind != DASH {
				t.Errorf("error %v is not a DASH SyntaxError", err)
			}
		})
	}
}

// TestDASHNestingBound checks that the depth bound leaves room for a deep but
// real manifest: 64 levels in all is accepted.
func TestDASHNestingBound(t *testing.T) {
	in := "<MPD>" + strings.Repeat("<a>", maxDepth-1) + `<SegmentURL media="s.mp4"/>` + strings.Repeat("</a>", maxDepth-1) + "</MPD>"
	want := "<MPD>" + strings.Repeat("<a>", maxDepth-1) + `<SegmentURL media="s.mp4?` + added + `"/>` + strings.Repeat("</a>", maxDepth-1) + "</MPD>"
	got, err := testRewriter().DASH(nil, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("got %s", got)
	}
}
