package hooks

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/gate"
)

// The hook fuzz targets throw arbitrary requests at each media server's
// handler, parser, decision and reply, and check that nothing panics, that
// the reply says what the decision was, and that nobody is admitted
// without a real credential of the alias in the request: its passcode, its
// stream key, the owner's token or a JWT signed with its secret.

func FuzzMediaMTXHook(f *testing.F) {
	jwtToken := hookJWT(f, "fullalias001", time.Minute, jwt.MapClaims{"host": true})
	for _, s := range []string{
		body(mediaMTXOld, "fullalias001", hookStreamKey),
		body(mediaMTXOld, "fullalias001", "sk-wrong-0123456789"),
		body(mediaMTXOld, "fullalias001", jwtToken),
		body(mediaMTXNew, "fullalias001", "passcode=correct-horse"),
		body(mediaMTXNew, "fullalias001", "jwt="+jwtToken),
		body(mediaMTXNew, "fullalias001", "passcode=correct%2"),
		body(mediaMTXNew, "expiredalias", "passcode=correct-horse"),
		body(mediaMTXNew, "conference01", "token="+jwtToken[:len(jwtToken)-2]+"xx"),
		`{"ip":"127.0.0.1","user":"","password":"\u0063orrect-horse","token":"","action":"read","path":"fullalias001","protocol":"rtsp","id":null,"query":""}`,
		`{"action":"metrics"}`,
		`{"action":"api","password":"x"}`,
		`[]`,
	} {
		f.Add(s)
	}
	fx := newFuzzHookFixture(f)
	h := fx.handler(FlavourMediaMTX)
	h.PathPrefix = "live"
	h.AllowActions = []string{"metrics"}
	f.Fuzz(func(t *testing.T, b string) {
		outcome, r := fx.serve(t, h, b)
		if (r.status == http.StatusNoContent) != admittedOutcome(outcome) {
			t.Fatalf("status %d for outcome %s", r.status, outcome)
		}
		fx.wantCredential(t, outcome, b)
	})
}

func FuzzSRSHook(f *testing.F) {
	jwtToken := hookJWT(f, "fullalias001", time.Minute, nil)
	for _, s := range []string{
		body(srsNew, "fullalias001", "?key="+hookStreamKey),
		body(srsNew, "fullalias001", "?key=sk-wrong-0123456789&passcode=correct-horse"),
		body(srsNew, "expiredalias", "?key=sk-expired-0123456789"),
		body(srsOld, "fullalias001", "?passcode=correct-horse"),
		body(srsOld, "fullalias001", "?token="+jwtToken),
		body(srsOld, "fullalias001", "?token=eyJhbGciOiJub25lIn0.eyJhbGlhcyI6ImZ1bGxhbGlhczAwMSJ9."),
		body(srsOld, "conference01", "?passcode=correct-horse"),
		`{"action":"on_close","client_id":1985}`,
		`{"action":"on_play","client_id":1.5e3,"stream":"fullalias001","param":"?passcode=%63orrect-horse"}`,
		`{"action":"on_play","client_id":null}`,
		`null`,
	} {
		f.Add(s)
	}
	fx := newFuzzHookFixture(f)
	h := fx.handler(FlavourSRS)
	f.Fuzz(func(t *testing.T, b string) {
		outcome, r := fx.serve(t, h, b)
		var reply struct {
			Code *int `json:"code"`
		}
		if r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &reply) != nil || reply.Code == nil {
			t.Fatalf("status %d body %q, want 200 with a JSON code", r.status, r.body)
		}
		if (*reply.Code == 0) != admittedOutcome(outcome) {
			t.Fatalf("code %d for outcome %s", *reply.Code, outcome)
		}
		fx.wantCredential(t, outcome, b)
	})
}

func FuzzNginxRTMPHook(f *testing.F) {
	jwtToken := hookJWT(f, "fullalias001", time.Minute, jwt.MapClaims{"host": true})
	for _, s := range []string{
		body(nginxPublish, "fullalias001", "&key="+hookStreamKey),
		body(nginxPublish, hookStreamKey, ""),
		body(nginxPublish, "sk-wrong-0123456789", ""),
		body(nginxPublish, "fullalias001", "&token="+jwtToken),
		body(nginxUpdate, hookStreamKey, ""),
		body(nginxRelayUpdate, "fullalias001", ""),
		body(nginxUpdate, "expiredalias", "&key=sk-expired-0123456789"),
		body(nginxPlay, "fullalias001", "&passcode=correct+horse"),
		body(nginxPlay, "fullalias001", "&passcode=correct-horse"),
		body(nginxPlay, "fullalias001", "&call=publish&name="+hookStreamKey),
		body(nginxPlay, hookStreamKey, ""),
		nginxSession + "&call=publish_done&name=fullalias001",
		"call=publish&name=sk-0123456789abcde%66",
	} {
		f.Add(s)
	}
	fx := newFuzzHookFixture(f)
	h := fx.handler(FlavourNginxRTMP)
	f.Fuzz(func(t *testing.T, b string) {
		outcome, r := fx.serve(t, h, b)
		if (r.status < 400) != admittedOutcome(outcome) {
			t.Fatalf("status %d for outcome %s", r.status, outcome)
		}
		if loc := r.header.Get("Location"); (r.status == http.StatusFound) != (loc != "") || loc != "" && !alias.ValidID(loc) {
			t.Fatalf("status %d with Location %q", r.status, loc)
		}
		fx.wantCredential(t, outcome, b)
	})
}

func FuzzOMEHook(f *testing.F) {
	jwtToken := hookJWT(f, "fullalias001", time.Minute, nil)
	for _, s := range []string{
		body(omeIncoming, "fullalias001", "?key="+hookStreamKey),
		body(omeIncoming, "fullalias001", "?passcode=correct-horse"),
		body(omeOutgoing, "fullalias001", "?passcode=correct-horse"),
		body(omeOutgoing, "fullalias001", "?token="+jwtToken),
		body(omeOutgoing, "expiredalias", "?passcode=correct-horse"),
		body(omeClosing, "fullalias001", ""),
		strings.Replace(body(omeIncoming, "", ""), "rtmp://192.0.2.1:1935/app/",
			"srt://192.0.2.1:9999?streamid=srt%3A%2F%2F192.0.2.1%3A9999%2Fapp%2Ffullalias001%3Fkey%3D"+hookStreamKey, 1),
	} {
		f.Add(s, "", true)
		f.Add(s, omeSignature("wrong", s), false)
	}
	f.Add(`{}`, "", false)
	fx := newFuzzHookFixture(f)
	h := fx.handler(FlavourOME)
	f.Fuzz(func(t *testing.T, b, signature string, sign bool) {
		if sign {
			signature = omeSignature(hookOMESecret, b)
		}
		before := fx.lookups.Load()
		outcome, r := fx.serve(t, h, b, HeaderOMESignature, signature)
		valid := signature != "" && verifyOMESignature([]byte(hookOMESecret), []byte(b), signature)
		if !valid {
			if outcome != "bad_hook_signature" || fx.lookups.Load() != before {
				t.Fatalf("unsigned request: outcome %s after %d lookups", outcome, fx.lookups.Load()-before)
			}
			return
		}
		var reply struct {
			Allowed  *bool `json:"allowed"`
			Lifetime int64 `json:"lifetime"`
		}
		if err := json.Unmarshal([]byte(r.body), &reply); err != nil {
			t.Fatalf("body %q is not JSON", r.body)
		}
		switch {
		case outcome == "acknowledged":
			if r.body != "{}\n" {
				t.Fatalf("closing answered %q", r.body)
			}
		case reply.Allowed == nil || *reply.Allowed != (outcome == "admitted"):
			t.Fatalf("body %q for outcome %s", r.body, outcome)
		case *reply.Allowed && (reply.Lifetime < 1 || reply.Lifetime > time.Hour.Milliseconds()):
			t.Fatalf("lifetime %d outlives the alias or is forever", reply.Lifetime)
		}
		fx.wantCredential(t, outcome, b)
	})
}

// fuzzHookFixture is the hook fixture without its public alias, which
// rightly admits viewers without any credential.
type fuzzHookFixture struct {
	*hookFixture
	verify *jwt.Parser
}

func newFuzzHookFixture(f *testing.F) *fuzzHookFixture {
	fx := newHookFixture(f)
	store, err := fx.node.Backend()
	if err != nil {
		f.Fatal(err)
	}
	if err := store.DeleteAlias(context.Background(), fx.public.OrgID, fx.public.ID); err != nil {
		f.Fatal(err)
	}
	// Throttling would hide admissions from the fuzzer.
	fx.gate.Limiter = nil
	return &fuzzHookFixture{
		hookFixture: fx,
		verify: jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}),
			jwt.WithTimeFunc(func() time.Time { return hookNow }), jwt.WithLeeway(gate.DefaultJWTLeeway)),
	}
}

// serve posts b to h and returns the outcome it reported and the reply.
func (fx *fuzzHookFixture) serve(t *testing.T, h *Handler, b string, header ...string) (string, hookResponse) {
	var outcome string
	hh := *h
	hh.Decisions = func(_ Flavour, r gate.Reason) { outcome = r.Code() }
	r := post(t, &hh, b, header...)
	if outcome == "" {
		t.Fatal("no decision reported")
	}
	return outcome, r
}

func admittedOutcome(outcome string) bool {
	return outcome == "admitted" || outcome == "acknowledged"
}

// wantCredential fails an admission unless the request holds a real
// credential of the alias, in any of the encodings a server may use.
func (fx *fuzzHookFixture) wantCredential(t *testing.T, outcome, b string) {
	if outcome != "admitted" {
		return
	}
	candidates := presentedDeep(b)
	for _, c := range candidates {
		if strings.Contains(c, hookPasscode) || strings.Contains(c, hookStreamKey) || strings.Contains(c, fx.ownerToken) {
			return
		}
	}
	for _, c := range candidates {
		if _, err := fx.verify.Parse(c, func(*jwt.Token) (any, error) { return []byte(hookJWTSecret), nil }); err == nil {
			return
		}
	}
	t.Fatalf("admitted without a real credential: %q", b)
}

// presentedDeep lists what a request body could carry: presented's view of
// it and of every JSON string in it, applied again to what that finds, for
// values escaped more than once.
func presentedDeep(b string) []string {
	seen := map[string]bool{}
	next := []string{b}
	var v any
	if json.Unmarshal([]byte(b), &v) == nil {
		next = append(next, jsonStrings(v)...)
	}
	var out []string
	for depth := 0; depth < 4 && len(next) > 0; depth++ {
		var found []string
		for _, s := range next {
			if seen[s] {
				continue
			}
			seen[s] = true
			out = append(out, s)
			found = append(found, presented(s)...)
		}
		next = found
	}
	return out
}

func jsonStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, jsonStrings(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for k, e := range v {
			out = append(out, k)
			out = append(out, jsonStrings(e)...)
		}
		return out
	}
	return nil
}

// presented lists what a client sent: the raw text, every substring that
// could be a compact JWT, and every percent-decoded query value.
func presented(s string) []string {
	out := []string{s}
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return !(r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	})
	for _, field := range fields {
		if strings.Count(field, ".") == 2 {
			out = append(out, field)
		}
	}
	for pair := range strings.SplitSeq(strings.ReplaceAll(s, "\x00", "&"), "&") {
		if _, v, ok := strings.Cut(pair, "="); ok {
			if v, err := url.QueryUnescape(v); err == nil {
				out = append(out, strings.TrimSpace(v))
			}
		}
	}
	return out
}
