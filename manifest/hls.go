package manifest

import (
	"bytes"
)

// HLS appends to dst the playlist src (RFC 8216 and its low-latency
// successor, multivariant or media) with the parameter added to every
// eligible URI: each URI line (media segments, variant streams) and the URI
// attribute of the tags that carry one (EXT-X-MAP, EXT-X-KEY,
// EXT-X-SESSION-KEY, EXT-X-MEDIA, EXT-X-I-FRAME-STREAM-INF,
// EXT-X-SESSION-DATA, EXT-X-PART, EXT-X-PRELOAD-HINT,
// EXT-X-RENDITION-REPORT). Every other byte is copied as it is: comments,
// unknown tags, blank lines, line endings, a byte order mark.
//
// A URI that uses variable substitution ({$name}) is left alone, as its
// value, which may come from the multivariant playlist or from the request's
// query, can make it name any host.
//
// src must start with #EXTM3U, after an optional UTF-8 byte order mark. On
// error, dst comes back as it was given.
//
// dst grows at most once, to a bound on the output: the input's length plus,
// for every line and every URI= that could hold a URI, the parameter with a
// separator. A dst with that much spare capacity, such as a pooled buffer
// that served the previous version of the playlist, is written in place.
func (rw *Rewriter) HLS(dst, src []byte) ([]byte, error) {
	u, err := rw.uris(false)
	if err != nil {
		return dst, err
	}
	p := 0
	if bytes.HasPrefix(src, bom) {
		p = len(bom)
	}
	if !bytes.HasPrefix(src[p:], extm3u) {
		return dst, &SyntaxError{HLS, p, "not a playlist: no #EXTM3U"}
	}
	h := hlsRewrite{u: u, src: src, dst: grow(dst, len(src)+hlsURIs(src)*u.growth())}
	for p < len(src) {
		eol := len(src)
		if i := bytes.IndexByte(src[p:], '\n'); i >= 0 {
			eol = p + i
		}
		end := eol
		if end > p && src[end-1] == '\r' {
			end--
		}
		line := src[p:end]
		if i := bytes.IndexByte(line, '\r'); i >= 0 {
			return dst, &SyntaxError{HLS, p + i, "carriage return without line feed"}
		}
		switch {
		case len(line) == 0:
		case line[0] != '#':
			err = h.uri(p, end)
		case hlsURITag(line):
			err = h.attributes(p, end)
		}
		if err != nil {
			return dst, err
		}
		p = eol + 1
	}
	return append(h.dst, src[h.done:]...), nil
}

var (
	bom    = []byte("\xEF\xBB\xBF")
	extm3u = []byte("#EXTM3U")
	uriAt  = []byte("URI=")
)

// hlsURIs is how many URIs src holds at most, so that the output is
// allocated once.
func hlsURIs(src []byte) int {
	n := bytes.Count(src, uriAt)
	for p := 0; p < len(src); {
		if src[p] != '#' && src[p] != '\n' {
			n++
		}
		i := bytes.IndexByte(src[p:], '\n')
		if i < 0 {
			break
		}
		p += i + 1
	}
	return n
}

// hlsURITag reports whether line is a tag whose URI attribute names a
// resource the client will request.
func hlsURITag(line []byte) bool {
	name, _, found := bytes.Cut(line[1:], []byte(":"))
	if !found {
		return false
	}
	switch string(name) {
	case "EXT-X-MAP", "EXT-X-KEY", "EXT-X-SESSION-KEY", "EXT-X-MEDIA",
		"EXT-X-I-FRAME-STREAM-INF", "EXT-X-SESSION-DATA", "EXT-X-PART",
		"EXT-X-PRELOAD-HINT", "EXT-X-RENDITION-REPORT":
		return true
	}
	return false
}

// hlsRewrite copies a playlist to dst; src[done:] is what is left to copy.
type hlsRewrite struct {
	u    uris
	src  []byte
	dst  []byte
	done int
}

// uri rewrites the URI in src[from:to].
func (h *hlsRewrite) uri(from, to int) error {
	h.dst = append(h.dst, h.src[h.done:from]...)
	var bad int
	var ok bool
	h.dst, _, bad, ok = h.u.appendURI(h.dst, h.src[from:to], local)
	if !ok {
		return &SyntaxError{HLS, from + bad, "malformed URI"}
	}
	h.done = to
	return nil
}

// attributes rewrites the URI attributes of the tag in src[from:to]. An
// attribute list is NAME=VALUE pairs separated by commas, where a value is a
// "quoted string", which may hold commas, or runs to the next comma. Spaces
// around names are tolerated, as players tolerate them; a quote anywhere else
// would leave it unclear where a value ends, so it is an error.
func (h *hlsRewrite) attributes(from, to int) error {
	line := h.src[:to]
	i := from + bytes.IndexByte(h.src[from:to], ':') + 1
	for i < to {
		for i < to && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		eq := bytes.IndexByte(line[i:], '=')
		comma := bytes.IndexByte(line[i:], ',')
		if eq < 0 || comma >= 0 && comma < eq {
			return &SyntaxError{HLS, i, "attribute without a value"}
		}
		name := bytes.TrimRight(line[i:i+eq], " \t")
		if bytes.IndexByte(name, '"') >= 0 {
			return &SyntaxError{HLS, i, "quote in an attribute name"}
		}
		i += eq + 1
		var v0, v1 int
		if i < to && line[i] == '"' {
			q := bytes.IndexByte(line[i+1:], '"')
			if q < 0 {
				return &SyntaxError{HLS, i, "quoted string without its closing quote"}
			}
			v0, v1 = i+1, i+1+q
			for i = v1 + 1; i < to && (line[i] == ' ' || line[i] == '\t'); i++ {
			}
			if i < to && line[i] != ',' {
				return &SyntaxError{HLS, i, "text after a quoted string"}
			}
		} else {
			v0, v1 = i, to
			if c := bytes.IndexByte(line[i:], ','); c >= 0 {
				v1 = i + c
			}
			if q := bytes.IndexByte(line[v0:v1], '"'); q >= 0 {
				return &SyntaxError{HLS, v0 + q, "quote inside an unquoted value"}
			}
			i = v1
		}
		i++ // the comma
		if string(name) == "URI" {
			if err := h.uri(v0, v1); err != nil {
				return err
			}
		}
	}
	return nil
}
