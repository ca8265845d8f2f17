package hooks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/gate"
)

// The hook benchmarks measure a viewer's admission by passcode on a cache
// hit: the server's body parsed and decided, against alias_auth's decision
// on the same alias with ?passcode=.

// BenchmarkHookDecision parses each server's body and admits it.
func BenchmarkHookDecision(b *testing.B) {
	f := newHookFixture(b)
	h := f.handler(FlavourSRS)
	ctx := context.Background()
	cases := []struct {
		name  string
		body  []byte
		parse func([]byte) (Request, error)
		// signed adds OvenMediaEngine's signature check, which every one of
		// its requests pays.
		signed bool
	}{
		{"mediamtx", []byte(body(mediaMTXNew, "fullalias001", "passcode=correct-horse")), func(b []byte) (Request, error) { return parseMediaMTX(b, "live", nil) }, false},
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
				if d := h.decide(ctx, &req); !d.Admitted() {
					b.Fatalf("refused: %s", d.Reason)
				}
			}
		})
	}
}

// BenchmarkDecide is the decision alone, from a parsed request.
func BenchmarkDecide(b *testing.B) {
	f := newHookFixture(b)
	h := f.handler(FlavourSRS)
	ctx := context.Background()
	req := Request{AliasID: "fullalias001", Action: ActionRead, ClientIP: "198.51.100.7",
		Credential: gate.Credential{Kind: gate.KindPasscode, Value: hookPasscode}}
	b.ReportAllocs()
	for b.Loop() {
		if d := h.decide(ctx, &req); !d.Admitted() {
			b.Fatalf("refused: %s", d.Reason)
		}
	}
}

// BenchmarkAliasAuthDecision is alias_auth's decision for the same viewer:
// "parsed" includes reading the HTTP request, as the hooks include reading
// their body; "reused" is Check alone on a request already read.
func BenchmarkAliasAuthDecision(b *testing.B) {
	f := newHookFixture(b)
	route := &gate.Route{Type: alias.TypeLive, Require: alias.RequireViewer}
	in := gate.Inbound{AliasID: "fullalias001", Client: "198.51.100.7"}
	const target = "/live/fullalias001/index.m3u8?passcode=correct-horse"
	w := discardWriter{}
	b.Run("parsed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r := httptest.NewRequest(http.MethodGet, target, nil)
			if d, ok := f.gate.Check(w, r, route, in); !ok {
				b.Fatalf("refused: %s", d.Reason)
			}
		}
	})
	b.Run("reused", func(b *testing.B) {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		b.ReportAllocs()
		for b.Loop() {
			r.URL.RawQuery = "passcode=correct-horse"
			if d, ok := f.gate.Check(w, r, route, in); !ok {
				b.Fatalf("refused: %s", d.Reason)
			}
		}
	})
}

type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}
