package alias

import "crypto/rand"

// IDLength is the length of the alias IDs linkgate generates.
const IDLength = 12

// MaxIDLength bounds IDs made by hand in SQL; anything longer cannot exist
// and is refused before any lookup.
const MaxIDLength = 64

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// NewID returns a fresh random alias ID of IDLength characters from [a-z0-9].
func NewID() string { return randomString(IDLength, idAlphabet) }

// randomString draws n characters uniformly from alphabet (at most 256
// characters), rejecting the bytes that would bias the draw.
func randomString(n int, alphabet string) string {
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		rand.Read(buf[:])
		for _, b := range buf {
			if int(b) < limit {
				out = append(out, alphabet[int(b)%len(alphabet)])
				if len(out) == n {
					break
				}
			}
		}
	}
	return string(out)
}

// ValidID reports whether id could name an alias: 1 to 64 characters of
// [A-Za-z0-9_-]. Generated IDs are narrower; the wider set admits aliases an
// operator inserted by hand. Anything else is "not found" without a lookup.
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > MaxIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// NewOrgID and NewTokenID make the IDs of organizations and tokens; their
// prefixes tell an operator which is which in logs and CLI output.
func NewOrgID() string   { return "org_" + randomString(16, idAlphabet) }
func NewTokenID() string { return "tok_" + randomString(16, idAlphabet) }
