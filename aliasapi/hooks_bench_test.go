package aliasapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The hook benchmarks measure a viewer's admission by passcode on a cache
// hit: the server's body parsed and decided, against alias_auth's decision
// on the same alias with ?passcode=.

// BenchmarkHookDecision parses each server's body and admits it.
func BenchmarkHookDecision(b *testing.B) {
	f := newHookFixture(b)
	g := f.gate
	ctx := context.Background()
	cases := []struct {
		name  string
		body  []byte
		parse func([]byte) (HookRequest, error)
		// signed adds OvenMediaEngine's signature check, which every one of
		// its requests pays.
		signed bool
	}{
		{"mediamtx", []byte(body(mediaMTXNew, "fullalias001", "passcode=correct-horse")), func(b []byte) (HookRequest, error) { return parseMediaMTX(b, "live", nil) }, false},
		{"srs", []byte(body(srsOld, "fullalias001", "?passcode=correct-horse")), parseSRS, false},
		{"nginx_rtmp", []byte(body(nginxPlay, "fullalias001", "&passcode=correct-horse")), parseNginxRTMP, false},
		{"ome", []byte(body(omeOutgoing, "fullalias001", "?passcode=correct-horse")), parseOME, false},
		{"ome_signed", []byte(body(omeOutgoing, "fullalias001", "?passcode=correct-horse")), parseOME, true},
	}
	secret := []byte(hookOMESecret)
	for _, tc := range cases {
		sig := omeSignature(hookOMESecret, string(tc.body))
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if tc.signed && !verifyOMESignature(secret, tc.body, sig) {
					b.Fatal("signature refused")
				}
				req, err := tc.parse(tc.body)
				if err != nil {
					b.Fatal(err)
				}
				if d := g.Admit(ctx, req); d.Outcome != OutcomeAdmitted {
					b.Fatalf("outcome %s", d.Outcome)
				}
			}
		})
	}
}

// BenchmarkAdmit is the decision alone, from a parsed request.
func BenchmarkAdmit(b *testing.B) {
	f := newHookFixture(b)
	ctx := context.Background()
	req := HookRequest{AliasID: "fullalias001", Action: ActionRead, ClientIP: "198.51.100.7",
		Credentials: []Credential{{Kind: CredentialPasscode, Value: hookPasscode}}}
	b.ReportAllocs()
	for b.Loop() {
		if d := f.gate.Admit(ctx, req); d.Outcome != OutcomeAdmitted {
			b.Fatalf("outcome %s", d.Outcome)
		}
	}
}

// BenchmarkAliasAuthDecision is alias_auth's decision for the same viewer:
// "parsed" includes reading the HTTP request, as the hooks include reading
// their body; "reused" is Check alone on a request already read.
func BenchmarkAliasAuthDecision(b *testing.B) {
	f := newHookFixture(b)
	route := &Route{Type: TypeLive, Require: RequireViewer}
	const target = "/live/fullalias001/index.m3u8?passcode=correct-horse"
	w := discardWriter{}
	b.Run("parsed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r := httptest.NewRequest(http.MethodGet, target, nil)
			if d := f.gate.Check(w, r, route, "fullalias001", "198.51.100.7"); d.Status != 0 {
				b.Fatalf("status %d", d.Status)
			}
		}
	})
	b.Run("reused", func(b *testing.B) {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		b.ReportAllocs()
		for b.Loop() {
			r.URL.RawQuery = "passcode=correct-horse"
			if d := f.gate.Check(w, r, route, "fullalias001", "198.51.100.7"); d.Status != 0 {
				b.Fatalf("status %d", d.Status)
			}
		}
	})
}

type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}
