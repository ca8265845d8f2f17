package manifest

import (
	"bytes"
	"testing"
)

// otherToken rewrites with a second token, for the properties that compare
// two rewrites.
func otherToken() *Rewriter {
	rw := testRewriter()
	rw.Token = "Zz9_-x"
	return rw
}

var hlsSeeds = []string{
	"#EXTM3U\n",
	"\xEF\xBB\xBF#EXTM3U\r\n#EXT-X-MAP:URI=\"i.mp4\"\r\ns.m4s\r\n",
	"#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"k?a=1&lgt=x#f\"\n{$v}/s.ts\n\\\\h\\s.ts\nhttps://gw.example:0443/s.ts\n",
	"#EXTM3U\n#EXT-X-PART:URI=\"p.mp4\",BYTERANGE=\"1@0\"\n#EXT-X-MEDIA:NAME=\"a,b\",URI=x\n \t\n",
}

// FuzzHLS checks, for any input the rewriter accepts: that it never panics;
// that the output is the input with the parameter added and nothing else;
// that every URI the oracle finds eligible carries the token exactly once and
// every other one is unchanged; that rewriting again changes nothing; and
// that rewriting the output with another token gives what rewriting the
// input with it gives.
func FuzzHLS(f *testing.F) {
	for _, tc := range hlsCases {
		f.Add([]byte(tc.in))
	}
	for _, s := range hlsSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		rw := testRewriter()
		out, err := rw.HLS(nil, in)
		if err != nil {
			if out != nil {
				t.Fatalf("error %v, yet output %q", err, out)
			}
			return
		}
		if again, err := rw.HLS(nil, out); err != nil || !bytes.Equal(again, out) {
			t.Fatalf("rewriting the output again: %v\n%s", err, firstDiff(string(out), string(again)))
		}
		a, errA := otherToken().HLS(nil, in)
		b, errB := otherToken().HLS(nil, out)
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Fatalf("another token on the input and on the output: %v, %v\n%s", errA, errB, firstDiff(string(a), string(b)))
		}
		if hasParam(in, false) {
			return // the oracle tells added parameters by their name
		}
		checkHLS(t, string(in), string(out))
	})
}

var dashSeeds = []string{
	`<MPD/>`,
	`<?xml version="1.0"?><!--c--><MPD><BaseURL>&#x2F;/gw.example/</BaseURL><Period><SegmentURL media='a&amp;b?c#d'/></Period></MPD>`,
	`<MPD><BaseURL>https://cdn.example/</BaseURL><BaseURL>x/</BaseURL><Period><BaseURL>https://gw.example/</BaseURL><SegmentTemplate media="$Number$"/></Period></MPD>`,
	`<p:MPD xmlns:p="urn:mpeg:dash:schema:mpd:2011"><p:Location> m.mpd </p:Location><![CDATA[x]]><?pi?></p:MPD>`,
}

// FuzzDASH checks the same properties as FuzzHLS, and that the output is
// well-formed XML (as encoding/xml reads it) whenever the input is.
func FuzzDASH(f *testing.F) {
	for _, tc := range dashCases {
		f.Add([]byte(tc.in))
	}
	for _, s := range dashSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		rw := testRewriter()
		out, err := rw.DASH(nil, in)
		if err != nil {
			if out != nil {
				t.Fatalf("error %v, yet output %q", err, out)
			}
			return
		}
		if _, err := parseXML(string(in)); err == nil {
			if _, err := parseXML(string(out)); err != nil {
				t.Fatalf("input is well-formed, output is not: %v\n%s", err, out)
			}
		}
		if again, err := rw.DASH(nil, out); err != nil || !bytes.Equal(again, out) {
			t.Fatalf("rewriting the output again: %v\n%s", err, firstDiff(string(out), string(again)))
		}
		a, errA := otherToken().DASH(nil, in)
		b, errB := otherToken().DASH(nil, out)
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Fatalf("another token on the input and on the output: %v, %v\n%s", errA, errB, firstDiff(string(a), string(b)))
		}
		if hasParam(in, true) {
			return // the oracle tells added parameters by their name
		}
		checkDASH(t, string(in), string(out))
	})
}
