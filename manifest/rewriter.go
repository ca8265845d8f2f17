package manifest

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Rewriter appends Param=Token to every eligible URI of a playlist or a
// manifest. A URI is eligible when it resolves to Origin: a relative
// reference, or an absolute http(s) URI (or a network-path reference //host)
// whose scheme, host and port are Origin's, default ports being the same as
// none. A URI that readers could take for different places (one with a
// control character inside, userinfo, a host spelled other than Origin's
// way) counts as foreign: a missing token costs one refused request, a
// leaked one lets a third party watch. A URI that already carries Param gets
// Token as the value of each occurrence instead of one more Param. Every other
// URI, and every other byte, is copied unchanged.
//
// A Rewriter holds no state between calls, so one value may serve any number
// of documents, from any number of goroutines.
type Rewriter struct {
	// Param is the query parameter's name: ASCII letters, digits and "-._~",
	// which no URI or XML syntax has to escape.
	Param string
	// Token is the parameter's value: base64url characters, without padding.
	Token string
	// Origin is the scheme and host (with the port, if any) of the request as
	// the client made it; only its Scheme, Hostname and Port are read. With a
	// nil Origin only relative references are eligible.
	Origin *url.URL
}

// A SyntaxError says why a document was not rewritten. The caller is meant to
// pass the document on untouched.
type SyntaxError struct {
	Kind   Kind
	Offset int // of the byte in the input where the problem was found
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("manifest: %s at byte %d: %s", e.Kind, e.Offset, e.Msg)
}

var (
	errParam = errors.New("manifest: Param must be non-empty ASCII letters, digits and -._~")
	errToken = errors.New("manifest: Token must be non-empty base64url characters")
)

// place is where a URI leads, as far as the token is concerned.
type place uint8

const (
	// local is the origin the client used: the token may go there.
	local place = iota
	// foreign is anywhere else, or somewhere this package cannot be sure of.
	foreign
)

// uris rewrites the URIs of one document.
type uris struct {
	param, token string
	// scheme is "http" or "https", or empty when no absolute URI is local.
	scheme string
	host   string
	port   int
	// xml says URIs are written as XML character data, where & starts a
	// reference and must itself be written as &amp;.
	xml bool
}

func (rw *Rewriter) uris(xml bool) (uris, error) {
	u := uris{param: rw.Param, token: rw.Token, xml: xml}
	if u.param == "" || strings.IndexFunc(u.param, notUnreserved) >= 0 {
		return u, errParam
	}
	if u.token == "" || strings.IndexFunc(u.token, notBase64URL) >= 0 {
		return u, errToken
	}
	if o := rw.Origin; o != nil && o.Hostname() != "" {
		scheme, port := "", 0
		switch {
		case strings.EqualFold(o.Scheme, "http"):
			scheme, port = "http", 80
		case strings.EqualFold(o.Scheme, "https"):
			scheme, port = "https", 443
		}
		if p := o.Port(); p != "" {
			port = portNumber(p)
		}
		if scheme != "" && port > 0 {
			u.scheme, u.host, u.port = scheme, o.Hostname(), port
		}
	}
	return u, nil
}

// portNumber reads a port, or returns -1. It is not strconv.Atoi, whose
// error allocates on every request of an origin with an odd port.
func portNumber(s string) int {
	n := 0
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
		if n = n*10 + int(s[i]-'0'); n > 65535 {
			return -1
		}
	}
	return n
}

func notUnreserved(r rune) bool {
	return !(alnum(r) || r == '-' || r == '.' || r == '_' || r == '~')
}

func notBase64URL(r rune) bool {
	return !(alnum(r) || r == '-' || r == '_')
}

func alnum(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
}

// grow returns dst with room for n more bytes. It is slices.Grow written as
// one make: slices.Grow's append idiom makes two allocations where the
// compiler does not fuse it, as under the race detector.
func grow(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	grown := make([]byte, len(dst), len(dst)+n)
	copy(grown, dst)
	return grown
}

// growth is the most one rewritten URI grows by.
func (u *uris) growth() int {
	return len("&amp;") + len(u.param) + len("=") + len(u.token)
}

// char returns the character of s at i and the number of bytes it takes: one
// byte, or in XML a whole reference (&amp; or &#38;), decoded. A reference to
// a character beyond ASCII comes back as utf8.RuneSelf, which equals none of
// the delimiters a URI's syntax cares about. n is 0 for a malformed reference.
func (u *uris) char(s []byte, i int) (c byte, n int) {
	if s[i] != '&' || !u.xml {
		return s[i], 1
	}
	end := 0
	for j := i + 1; j < len(s); j++ {
		if s[j] == ';' {
			end = j
			break
		}
	}
	if end == 0 {
		return 0, 0
	}
	name := s[i+1 : end]
	switch string(name) {
	case "amp":
		return '&', end + 1 - i
	case "lt":
		return '<', end + 1 - i
	case "gt":
		return '>', end + 1 - i
	case "quot":
		return '"', end + 1 - i
	case "apos":
		return '\'', end + 1 - i
	}
	if len(name) < 2 || name[0] != '#' {
		return 0, 0
	}
	digits, base := name[1:], uint64(10)
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if len(digits) == 0 {
		return 0, 0
	}
	var r uint64
	for _, d := range digits {
		v := uint64(base)
		switch {
		case '0' <= d && d <= '9':
			v = uint64(d - '0')
		case base == 16 && 'a' <= d && d <= 'f':
			v = uint64(d-'a') + 10
		case base == 16 && 'A' <= d && d <= 'F':
			v = uint64(d-'A') + 10
		}
		if v >= base {
			return 0, 0
		}
		if r = r*base + v; r > utf8.MaxRune {
			return 0, 0
		}
	}
	if !xmlChar(rune(r)) {
		return 0, 0
	}
	if r >= utf8.RuneSelf {
		return utf8.RuneSelf, end + 1 - i
	}
	return byte(r), end + 1 - i
}

// xmlChar reports whether XML 1.0 allows r in a document at all.
func xmlChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' ||
		0x20 <= r && r <= 0xD7FF || 0xE000 <= r && r <= 0xFFFD || 0x10000 <= r && r <= utf8.MaxRune
}

// A uri is one URI's text as written, with the offsets of its parts.
type uri struct {
	s []byte
	// start and end bound the URI without the whitespace and control
	// characters around it, which URL parsers strip; start is -1 when
	// nothing is left.
	start, end int
	// query is the offset of the ? that starts the query and queryEnd the one
	// after it, or both -1 when there is none.
	query, queryEnd int
	// hash is the offset of the # that starts the fragment, or -1.
	hash int
	// before is the character before where the parameter would be added.
	before byte
	// variable says the text holds an HLS variable reference {$name}, whose
	// value may make the URI name any host.
	variable bool
	// broken says a control character sits inside the URI. URL parsers
	// delete tabs and line breaks, XML parsers turn them into spaces in
	// attribute values, and reject others: what such a URI names depends on
	// who reads it.
	broken bool
}

// scan splits s into its parts, or says at which offset it is malformed.
func (u *uris) scan(s []byte) (uri, int, bool) {
	p := uri{s: s, start: -1, query: -1, queryEnd: -1, hash: -1}
	var prev, lastSolid byte
	gap := false
	for i := 0; i < len(s); {
		c, n := u.char(s, i)
		if n == 0 {
			return p, i, false
		}
		if c > ' ' {
			if p.start < 0 {
				p.start = i
			}
			p.end, lastSolid = i+n, c
			p.broken = p.broken || gap
		}
		if p.start >= 0 && c < ' ' {
			gap = true
		}
		if p.start >= 0 && p.hash < 0 {
			switch c {
			case '#':
				p.hash, p.before = i, prev
			case '?':
				if p.query < 0 {
					p.query, p.queryEnd = i, i+n
				}
			}
		}
		if !u.xml && prev == '{' && c == '$' {
			p.variable = true
		}
		prev = c
		i += n
	}
	if p.hash < 0 {
		p.before = lastSolid
	}
	return p, 0, true
}

// insertAt is where the parameter goes: before the fragment, or at the end.
func (p *uri) insertAt() int {
	if p.hash >= 0 {
		return p.hash
	}
	return p.end
}

// cursor reads a URI character by character. It never meets a NUL: a URI
// with a control character inside is foreign before any reading.
type cursor struct {
	u   *uris
	s   []byte
	i   int
	end int
}

// next returns the next character, or 0 at the end.
func (c *cursor) next() byte {
	if c.i >= c.end {
		return 0
	}
	b, n := c.u.char(c.s, c.i)
	c.i += n
	return b
}

// doubleSlash consumes the next two characters and reports whether both
// are slashes: what starts an authority.
func (c *cursor) doubleSlash() bool {
	first := slash(c.next())
	return first && slash(c.next())
}

// slash is a path separator as the WHATWG URL parser sees it in http(s)
// URLs, where a backslash counts as a slash.
func slash(c byte) bool { return c == '/' || c == '\\' }

// place says where p leads when a relative reference would resolve against
// base. A fragment-only or empty reference names the document itself.
func (u *uris) place(p *uri, base place) place {
	if p.start < 0 {
		return base
	}
	if p.variable || p.broken {
		return foreign
	}
	c := cursor{u: u, s: p.s, i: p.start, end: p.end}
	first := c.next()
	if 'a' <= first|0x20 && first|0x20 <= 'z' {
		var scheme [len("https")]byte
		n := 0
		for b := first; ; b = c.next() {
			if b == ':' {
				break
			}
			if !('a' <= b|0x20 && b|0x20 <= 'z' || '0' <= b && b <= '9' || b == '+' || b == '-' || b == '.') {
				n = -1 // no scheme: a relative path that starts with a letter
				break
			}
			if n < len(scheme) {
				scheme[n] = b | 0x20
			}
			n++
		}
		switch {
		case n == len("http") && string(scheme[:n]) == "http",
			n == len("https") && string(scheme[:n]) == "https":
			if c.doubleSlash() && string(scheme[:n]) == u.scheme {
				return u.authority(&c)
			}
			return foreign
		case n >= 0:
			return foreign
		}
	}
	c = cursor{u: u, s: p.s, i: p.start, end: p.end}
	if c.doubleSlash() {
		if u.scheme == "" {
			return foreign
		}
		return u.authority(&c)
	}
	return base
}

// authority compares the authority that c is at with the origin's. Extra
// slashes before it are skipped, as URL parsers do for http(s). Userinfo,
// percent-encoding and any host spelling but the origin's own count as
// foreign: the token must never leave, whereas a missing one only costs a
// request that the gateway refuses.
func (u *uris) authority(c *cursor) place {
	b := c.next()
	for slash(b) {
		b = c.next()
	}
	host := u.host
	bracketed := b == '['
	if bracketed {
		b = c.next()
	}
	for ; b != 0; b = c.next() {
		if bracketed && b == ']' {
			bracketed = false
			b = c.next()
			break
		}
		if !bracketed && (b == ':' || slash(b) || b == '?' || b == '#') {
			break
		}
		if host == "" || lower(b) != lower(host[0]) {
			return foreign
		}
		host = host[1:]
	}
	if host != "" || bracketed {
		return foreign
	}
	port, digits := 0, 0
	if b == ':' {
		for b = c.next(); '0' <= b && b <= '9'; b = c.next() {
			if port = port*10 + int(b-'0'); port > 65535 {
				return foreign
			}
			digits++
		}
	}
	if !(b == 0 || slash(b) || b == '?' || b == '#') {
		return foreign
	}
	if digits == 0 {
		port = 80
		if u.scheme == "https" {
			port = 443
		}
	}
	if port != u.port {
		return foreign
	}
	return local
}

func lower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// appendURI appends s to dst, with the parameter added when the URI it holds
// is eligible. It reports where the URI leads, for a base URI's descendants.
// bad is the offset in s of a malformed reference; it is meaningful when ok is
// false, and then dst is unchanged.
func (u *uris) appendURI(dst, s []byte, base place) (out []byte, to place, bad int, ok bool) {
	p, bad, ok := u.scan(s)
	if !ok {
		return dst, foreign, bad, false
	}
	to = u.place(&p, base)
	if to != local || p.start < 0 || p.start == p.hash {
		return append(dst, s...), to, 0, true
	}
	at := p.insertAt()
	if p.query >= 0 {
		replaced := false
		done := 0
		for i, from := p.queryEnd, p.queryEnd; i <= at; {
			c, n := byte('&'), 1
			if i < at {
				c, n = u.char(s, i)
			}
			if c == '&' {
				if u.isParam(s[from:i]) {
					dst = append(dst, s[done:from]...)
					dst = u.appendParam(dst)
					done, replaced = i, true
				}
				from = i + n
			}
			i += n
		}
		if replaced {
			return append(dst, s[done:]...), to, 0, true
		}
	}
	dst = append(dst, s[:at]...)
	switch {
	case p.query < 0:
		dst = append(dst, '?')
	case at == p.queryEnd || p.before == '&':
	case u.xml:
		dst = append(dst, "&amp;"...)
	default:
		dst = append(dst, '&')
	}
	dst = u.appendParam(dst)
	return append(dst, s[at:]...), to, 0, true
}

func (u *uris) appendParam(dst []byte) []byte {
	dst = append(dst, u.param...)
	dst = append(dst, '=')
	return append(dst, u.token...)
}

// isParam reports whether the query component q is the parameter, with a
// value or without one.
func (u *uris) isParam(q []byte) bool {
	name := u.param
	for i := 0; i < len(q); {
		c, n := u.char(q, i)
		if c == '=' {
			break
		}
		if name == "" || c != name[0] {
			return false
		}
		name = name[1:]
		i += n
	}
	return name == ""
}
