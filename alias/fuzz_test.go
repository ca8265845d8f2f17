package alias

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// bodyModel is what the API's documented validation rules make of a
// request body, worked out without the decoder's code: whether it is
// accepted, and the fields it sets.
type bodyModel struct {
	ok bool
	// set holds the members given, with their values; nil for null.
	set   map[string]*string
	typ   string
	exp   int64
	grace int64
}

var fieldNames = map[string]bool{"type": true, "name": true, "passcode": true, "jwt_secret": true, "jwt_secret_grace": true, "stream_key": true, "expired_at": true}

func modelBody(body []byte, minSecret int, now time.Time) bodyModel {
	refuse := bodyModel{}
	dec := json.NewDecoder(bytes.NewReader(body))
	var members map[string]json.RawMessage
	if dec.Decode(&members) != nil || members == nil {
		return refuse
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return refuse
	}
	m := bodyModel{ok: true, set: map[string]*string{}}
	text := func(raw json.RawMessage) (*string, bool) {
		if string(raw) == "null" {
			return nil, true
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, false
		}
		for _, r := range s {
			if r < 0x20 || r == 0x7f || r == utf8.RuneError {
				return nil, false
			}
		}
		return &s, true
	}
	for key, raw := range members {
		if !fieldNames[key] {
			return refuse
		}
		switch key {
		case "type":
			var s string
			if string(raw) == "null" || json.Unmarshal(raw, &s) != nil || s != "live" && s != "conference" {
				return refuse
			}
			m.typ = s
		case "expired_at":
			// An integer in digits: no fraction, exponent or string.
			n, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil || n <= now.Unix() || n > 253402300799 {
				return refuse
			}
			m.exp = n
		case "jwt_secret_grace":
			n, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil || n < 0 || n > 86400 {
				return refuse
			}
			m.grace = n
		default:
			s, ok := text(raw)
			if !ok {
				return refuse
			}
			if s != nil {
				runes, bytes := utf8.RuneCountInString(*s), len(*s)
				var valid bool
				switch key {
				case "name":
					valid = runes >= 1 && runes <= 200
				case "passcode":
					valid = runes >= 4 && runes <= 128
				case "jwt_secret":
					valid = bytes >= minSecret && bytes <= 512
				case "stream_key":
					valid = runes >= 16 && runes <= 256 && strings.TrimSpace(*s) == *s && !strings.HasPrefix(*s, "lgo_") &&
						!(strings.HasPrefix(*s, "eyJ") && strings.Count(*s, ".") == 2 &&
							strings.Trim(*s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == "")
				}
				if !valid {
					return refuse
				}
			}
			m.set[key] = s
		}
	}
	// A grace period comes with a new secret, and nothing else that opens
	// the alias.
	if m.grace > 0 {
		secret, given := m.set["jwt_secret"]
		_, passcode := m.set["passcode"]
		_, key := m.set["stream_key"]
		if !given || secret == nil || passcode || key {
			return refuse
		}
	}
	return m
}

// FuzzDecodeBody holds the create and update decoders to the documented
// rules, modelled above: every rule, what is accepted and the values kept.
func FuzzDecodeBody(f *testing.F) {
	for _, seed := range []string{
		`{"type":"live","name":"n","passcode":"pass","expired_at":1800003600}`,
		`{"type":"conference","jwt_secret":null,"stream_key":"0123456789abcdef","expired_at":1800003600}`,
		`{"name":null}`,
		`[]`,
		`{"stream_key":" 0123456789abcdef"}`,
		`{"stream_key":"lgo_0123456789abcdef"}`,
		`{"stream_key":"eyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ.c2lnbmF0dXJl"}`,
		`{"jwt_secret":"0123456789abcdef0123456789abcdef"}`,
		`{"expired_at":1.8e9}`,
		`{"expired_at":"1800003600"}`,
		`{"name":"a\u0007b"}`,
		`{"type":"live"}{}`,
		`{"id":"x"}`,
		`{"jwt_secret":"0123456789abcdef0123456789abcdef","jwt_secret_grace":300}`,
		`{"jwt_secret":null,"jwt_secret_grace":300}`,
		`{"passcode":"abcd","jwt_secret":"0123456789abcdef0123456789abcdef","jwt_secret_grace":60}`,
		`{"type":"live","expired_at":1800003600,"jwt_secret_grace":0}`,
	} {
		f.Add([]byte(seed))
	}
	rules := Rules{MinJWTSecretLength: DefaultMinJWTSecretLength}
	f.Fuzz(func(t *testing.T, body []byte) {
		want := modelBody(body, rules.MinJWTSecretLength, testNow)
		p, err := DecodeUpdate(body, rules, testNow)
		checkRefusal(t, err)
		if (err == nil) != want.ok {
			t.Fatalf("update %q: error %v, want accepted %v", body, err, want.ok)
		}
		a, cerr := DecodeCreate(body, rules, testNow)
		checkRefusal(t, cerr)
		wantCreate := want.ok && want.typ != "" && want.exp != 0 && want.grace == 0
		if (cerr == nil) != wantCreate {
			t.Fatalf("create %q: error %v, want accepted %v", body, cerr, wantCreate)
		}
		if err != nil {
			return
		}
		fields := map[string]Field{"name": p.Name, "passcode": p.Passcode, "jwt_secret": p.JWTSecret, "stream_key": p.StreamKey}
		for name, f := range fields {
			v, given := want.set[name]
			switch {
			case f.Set != given:
				t.Fatalf("update %q: %s set %v, want %v", body, name, f.Set, given)
			case given && v == nil && f.Value != "":
				t.Fatalf("update %q: %s null, kept %q", body, name, f.Value)
			case given && v != nil && f.Value != *v:
				t.Fatalf("update %q: %s %q, want %q", body, name, f.Value, *v)
			}
		}
		if (p.Type != nil) != (want.typ != "") || p.Type != nil && string(*p.Type) != want.typ {
			t.Fatalf("update %q: type %v, want %q", body, p.Type, want.typ)
		}
		if p.JWTSecretGrace != time.Duration(want.grace)*time.Second {
			t.Fatalf("update %q: grace %v, want %ds", body, p.JWTSecretGrace, want.grace)
		}
		if (p.ExpiredAt != nil) != (want.exp != 0) || p.ExpiredAt != nil && p.ExpiredAt.Unix() != want.exp {
			t.Fatalf("update %q: expired_at %v, want %d", body, p.ExpiredAt, want.exp)
		}
		if cerr == nil && (string(a.Type) != want.typ || a.ExpiredAt.Unix() != want.exp || a.Name != p.Name.Value || a.StreamKey != p.StreamKey.Value) {
			t.Fatalf("create %q kept %+v", body, a)
		}
	})
}

func checkRefusal(t *testing.T, err error) {
	t.Helper()
	var in *InputError
	if err != nil && (!errors.As(err, &in) || in.Status != 400 || in.Code == "" || in.Detail == "") {
		t.Fatalf("refusal is not a 400 with code and detail: %v", err)
	}
}

// FuzzDecodeCursor checks that no cursor panics the decoder and that the
// only cursors accepted are those the API hands out: an accepted string
// is exactly what Encode makes of what it decodes to.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(Cursor{InsertedAt: time.Unix(1_800_000_000, 5000), ID: "abc123def456"}.Encode())
	f.Add("")
	f.Add("AQAAAAAAAAAAYQ")
	f.Add("AQAAAAAAAAAAYR")
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := DecodeCursor(s)
		if !ok {
			return
		}
		if got := c.Encode(); got != s {
			t.Fatalf("cursor %q accepted, but the API would have written %q for it", s, got)
		}
	})
}
