package alias

import (
	"errors"
	"testing"
	"time"
)

// FuzzDecodeBody checks that no body makes the decoders panic, that every
// refusal is a client error, and that what they accept obeys the rules.
func FuzzDecodeBody(f *testing.F) {
	f.Add([]byte(`{"type":"live","name":"n","passcode":"pass","expired_at":1800003600}`))
	f.Add([]byte(`{"type":"conference","jwt_secret":null,"stream_key":"0123456789abcdef","expired_at":1800003600}`))
	f.Add([]byte(`{"name":null}`))
	f.Add([]byte(`[]`))
	rules := Rules{MinJWTSecretLength: DefaultMinJWTSecretLength}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := DecodeCreate(body, rules, testNow)
		checkRefusal(t, err)
		if err == nil {
			if !a.Type.Valid() || !a.ExpiredAt.After(testNow) {
				t.Fatalf("accepted an alias breaking the rules: %+v", a)
			}
			if a.Passcode != "" && len([]rune(a.Passcode)) < minPasscodeLength {
				t.Fatalf("accepted a short passcode: %+v", a)
			}
		}
		p, err := DecodeUpdate(body, rules, testNow)
		checkRefusal(t, err)
		if err == nil && p.Type != nil && !p.Type.Valid() {
			t.Fatalf("accepted type %q", *p.Type)
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

// FuzzDecodeCursor checks that no cursor panics the decoder and that every
// accepted cursor is one Encode would make.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(Cursor{InsertedAt: time.Unix(1_800_000_000, 5000), ID: "abc123def456"}.Encode())
	f.Add("")
	f.Add("AQAAAAAAAAAAYQ")
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := DecodeCursor(s)
		if !ok {
			return
		}
		if !ValidID(c.ID) {
			t.Fatalf("accepted cursor %q with ID %q", s, c.ID)
		}
		again, ok := DecodeCursor(c.Encode())
		if !ok || again != c {
			t.Fatalf("cursor %q does not survive a round trip: %+v vs %+v", s, c, again)
		}
	})
}
