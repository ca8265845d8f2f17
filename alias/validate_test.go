package alias

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

var testNow = time.Unix(1_800_000_000, 0)

func TestDecodeCreate(t *testing.T) {
	future := strconv.FormatInt(testNow.Add(time.Hour).Unix(), 10)
	rules := Rules{MinJWTSecretLength: DefaultMinJWTSecretLength}
	tests := []struct {
		name string
		body string
		code string // empty: the body is valid
	}{
		{"minimal live", `{"type":"live","expired_at":` + future + `}`, ""},
		{"every field", `{"type":"conference","name":"Room","passcode":"pass","jwt_secret":"` + strings.Repeat("s", 32) + `","stream_key":"` + strings.Repeat("k", 16) + `","expired_at":` + future + `}`, ""},
		{"nulls for optional fields", `{"type":"live","name":null,"passcode":null,"jwt_secret":null,"stream_key":null,"expired_at":` + future + `}`, ""},
		{"name of 200 characters", `{"type":"live","name":"` + strings.Repeat("é", 200) + `","expired_at":` + future + `}`, ""},
		{"missing type", `{"expired_at":` + future + `}`, "missing_field"},
		{"missing expired_at", `{"type":"live"}`, "missing_field"},
		{"unknown type", `{"type":"vod","expired_at":` + future + `}`, "invalid_field"},
		{"type null", `{"type":null,"expired_at":` + future + `}`, "invalid_field"},
		{"type not a string", `{"type":1,"expired_at":` + future + `}`, "invalid_field"},
		{"expired_at in the past", `{"type":"live","expired_at":1737456308}`, "invalid_field"},
		{"expired_at now", `{"type":"live","expired_at":` + strconv.FormatInt(testNow.Unix(), 10) + `}`, "invalid_field"},
		{"expired_at as a string", `{"type":"live","expired_at":"` + future + `"}`, "invalid_field"},
		{"expired_at with a fraction", `{"type":"live","expired_at":` + future + `.5}`, "invalid_field"},
		{"expired_at in exponent form", `{"type":"live","expired_at":1.9e9}`, "invalid_field"},
		{"expired_at null", `{"type":"live","expired_at":null}`, "invalid_field"},
		{"expired_at beyond year 9999", `{"type":"live","expired_at":253402300800}`, "invalid_field"},
		{"empty name", `{"type":"live","name":"","expired_at":` + future + `}`, "invalid_field"},
		{"name of 201 characters", `{"type":"live","name":"` + strings.Repeat("n", 201) + `","expired_at":` + future + `}`, "invalid_field"},
		{"name with a newline", `{"type":"live","name":"a\nb","expired_at":` + future + `}`, "invalid_field"},
		{"name not a string", `{"type":"live","name":5,"expired_at":` + future + `}`, "invalid_field"},
		{"passcode of 3 characters", `{"type":"live","passcode":"abc","expired_at":` + future + `}`, "invalid_field"},
		{"passcode of 128 characters", `{"type":"live","passcode":"` + strings.Repeat("p", 128) + `","expired_at":` + future + `}`, ""},
		{"passcode of 129 characters", `{"type":"live","passcode":"` + strings.Repeat("p", 129) + `","expired_at":` + future + `}`, "invalid_field"},
		{"jwt_secret of 31 bytes", `{"type":"live","jwt_secret":"` + strings.Repeat("s", 31) + `","expired_at":` + future + `}`, "invalid_field"},
		{"stream_key of 15 characters", `{"type":"live","stream_key":"` + strings.Repeat("k", 15) + `","expired_at":` + future + `}`, "invalid_field"},
		{"stream_key of 256 characters", `{"type":"live","stream_key":"` + strings.Repeat("k", 256) + `","expired_at":` + future + `}`, ""},
		{"stream_key of 257 characters", `{"type":"live","stream_key":"` + strings.Repeat("k", 257) + `","expired_at":` + future + `}`, "invalid_field"},
		{"unknown field", `{"type":"live","expired_at":` + future + `,"colour":"red"}`, "unknown_field"},
		{"id is read-only", `{"id":"mine","type":"live","expired_at":` + future + `}`, "read_only_field"},
		{"inserted_at is read-only", `{"inserted_at":1,"type":"live","expired_at":` + future + `}`, "read_only_field"},
		{"empty body", ``, "invalid_json"},
		{"not JSON", `type=live`, "invalid_json"},
		{"an array", `[{"type":"live"}]`, "invalid_json"},
		{"null", `null`, "invalid_json"},
		{"two objects", `{"type":"live","expired_at":` + future + `}{}`, "invalid_json"},
		{"truncated", `{"type":"live"`, "invalid_json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeCreate([]byte(tt.body), rules, testNow)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("valid body refused: %v", err)
				}
				return
			}
			var in *InputError
			if !errors.As(err, &in) {
				t.Fatalf("got %v, want an InputError with code %s", err, tt.code)
			}
			if in.Code != tt.code || in.Status != 400 || in.Detail == "" {
				t.Fatalf("got %d %s %q, want 400 %s with a detail", in.Status, in.Code, in.Detail, tt.code)
			}
		})
	}
}

func TestDecodeCreateKeepsValues(t *testing.T) {
	body := `{"type":"conference","name":"Room 1","passcode":"pässcode","expired_at":1800003600}`
	a, err := DecodeCreate([]byte(body), Rules{MinJWTSecretLength: 32}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if a.Type != TypeConference || a.Name != "Room 1" || a.Passcode != "pässcode" || a.JWTSecret != "" || a.ExpiredAt.Unix() != 1800003600 {
		t.Fatalf("decoded %+v", a)
	}
}

func TestDecodeUpdateTellsAbsentFromNull(t *testing.T) {
	p, err := DecodeUpdate([]byte(`{"name":"New","passcode":null}`), Rules{MinJWTSecretLength: 32}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	old := Alias{Type: TypeLive, Name: "Old", Passcode: "secret1", StreamKey: strings.Repeat("k", 16), ExpiredAt: testNow.Add(time.Hour)}
	got := p.Apply(old)
	want := old
	want.Name, want.Passcode = "New", ""
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("patched to %+v, want %+v", got, want)
	}
	for _, body := range []string{`{"type":null}`, `{"expired_at":null}`} {
		if _, err := DecodeUpdate([]byte(body), Rules{MinJWTSecretLength: 32}, testNow); err == nil {
			t.Errorf("%s accepted: type and expired_at cannot be cleared", body)
		}
	}
}

func TestMinJWTSecretLengthIsConfigurable(t *testing.T) {
	body := []byte(`{"type":"live","jwt_secret":"legacy-1","expired_at":1800003600}`)
	if _, err := DecodeCreate(body, Rules{MinJWTSecretLength: 32}, testNow); err == nil {
		t.Fatal("an 8-byte secret passed the default rule")
	}
	if _, err := DecodeCreate(body, Rules{MinJWTSecretLength: 8}, testNow); err != nil {
		t.Fatalf("an 8-byte secret refused with a minimum of 8: %v", err)
	}
}
