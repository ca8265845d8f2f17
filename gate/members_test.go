package gate

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
)

// membersByEncodingJSON is the oracle: encoding/json's view of data as one
// object with distinct member names, and its members as written.
func membersByEncodingJSON(data []byte) (names []string, values [][]byte, ok bool) {
	if !json.Valid(data) {
		return nil, nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil, false
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, nil, false
		}
		name := t.(string)
		if slices.Contains(names, name) {
			return nil, nil, false
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, false
		}
		names, values = append(names, name), append(values, raw)
	}
	return names, values, true
}

// FuzzEachMember: the claims and header walker accepts exactly the single
// JSON objects with distinct member names that encoding/json accepts, and
// hands on the same names and values.
func FuzzEachMember(f *testing.F) {
	for _, seed := range []string{
		`{}`, ` { } `, `{"alias":"abc","exp":1.8e9,"host":true,"user_id":null}`,
		`{"a":1,"a":2}`, `{"\u0061":1,"a":2}`, `{"a":{"b":[1,{"c":"}"}]},"d":"\"}"}`,
		`{"a":1}x`, `{"a":1,}`, `{"a"}`, `{"a":}`, `[1]`, `"a"`, `{"a":tru}`, `{"a":01}`,
		"{\"a\":\"\x01\"}", "{\"\xff\":1}", `{"a":1 "b":2}`, `{"a":[}`, `{"a":"x`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		wantNames, wantValues, wantOK := membersByEncodingJSON(data)
		var names []string
		var values [][]byte
		r := eachMember(data, func(name string, value []byte) Reason {
			if !json.Valid(value) {
				return ReasonBadClaims
			}
			names, values = append(names, name), append(values, value)
			return 0
		})
		if (r == 0) != wantOK {
			t.Fatalf("eachMember(%q) = %v, encoding/json says valid and distinct: %v", data, r, wantOK)
		}
		if !wantOK {
			return
		}
		if !slices.Equal(names, wantNames) {
			t.Fatalf("eachMember(%q) names %q, encoding/json %q", data, names, wantNames)
		}
		for i := range values {
			if !bytes.Equal(values[i], wantValues[i]) {
				t.Fatalf("eachMember(%q) value %d %q, encoding/json %q", data, i, values[i], wantValues[i])
			}
		}
	})
}
