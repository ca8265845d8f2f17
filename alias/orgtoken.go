package alias

import (
	"crypto/rand"
	"crypto/sha256"
	"hash/crc32"
	"math/big"
	"strings"
)

// An organization token is "lgo_", 32 random bytes in base62 (43 characters)
// and a CRC-32 of those characters in base62 (6 characters). The checksum
// lets a mistyped or made-up token be refused without a database round trip,
// and the prefix lets secret scanners and the gateway recognise one.
const (
	OrgTokenPrefix    = "lgo_"
	orgTokenBodyLen   = 43
	orgTokenSumLen    = 6
	orgTokenLen       = len(OrgTokenPrefix) + orgTokenBodyLen + orgTokenSumLen
	base62Alphabet    = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" // big.Int.Text(62) order
	orgTokenRandBytes = 32
)

// TokenHash is the SHA-256 of an organization token: all a store ever keeps.
type TokenHash [sha256.Size]byte

// NewOrgToken returns a fresh organization token and its hash.
func NewOrgToken() (string, TokenHash) {
	var raw [orgTokenRandBytes]byte
	rand.Read(raw[:])
	body := base62(new(big.Int).SetBytes(raw[:]), orgTokenBodyLen)
	sum := base62(big.NewInt(int64(crc32.ChecksumIEEE([]byte(body)))), orgTokenSumLen)
	token := OrgTokenPrefix + body + sum
	return token, sha256.Sum256([]byte(token))
}

// ParseOrgToken checks the shape and checksum of an organization token and
// returns its hash; ok is false for anything that cannot be a token.
func ParseOrgToken(token string) (hash TokenHash, ok bool) {
	if len(token) != orgTokenLen || !strings.HasPrefix(token, OrgTokenPrefix) {
		return hash, false
	}
	body := token[len(OrgTokenPrefix) : len(OrgTokenPrefix)+orgTokenBodyLen]
	var sum uint64
	for i := len(OrgTokenPrefix); i < len(token); i++ {
		d := strings.IndexByte(base62Alphabet, token[i])
		if d < 0 {
			return hash, false
		}
		if i >= len(OrgTokenPrefix)+orgTokenBodyLen {
			sum = sum*62 + uint64(d)
		}
	}
	if sum != uint64(crc32.ChecksumIEEE([]byte(body))) {
		return hash, false
	}
	return sha256.Sum256([]byte(token)), true
}

// base62 writes n in base62, left-padded with zeros to width characters.
func base62(n *big.Int, width int) string {
	out := []byte(n.Text(62))
	for len(out) < width {
		out = append([]byte{'0'}, out...)
	}
	return string(out)
}
