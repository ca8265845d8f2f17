package manifest

import (
	"bytes"
)

// DASH appends to dst the MPD src with the parameter added to every eligible
// URI: the text of BaseURL, Location and PatchLocation (the MPD's own refresh
// addresses), SegmentTemplate's media, initialization, index and
// bitstreamSwitching templates, SegmentURL's media and index, and the
// sourceURL of Initialization, RepresentationIndex and BitstreamSwitching.
// $Number$-style template identifiers keep working, as the parameter holds
// no $. Elements are known by their local name, whatever their prefix.
//
// A relative reference resolves against the BaseURL elements around it, so
// it is eligible only when every BaseURL it may resolve against (a level may
// list alternatives) leads to the origin: relative segments under a CDN's
// BaseURL keep no token.
//
// The document is scanned as XML text, never decoded and re-encoded, so every
// other byte is copied as it is; references such as &amp; in a URI are read
// for what they stand for, and the separator added to a URI is written &amp;.
// Comments, CDATA sections and processing instructions are copied untouched.
// A document the scan cannot follow with certainty is an error: one with a
// DOCTYPE, markup inside a URI element, a BaseURL that follows a URI it would
// have applied to, unbalanced tags, a root element other than MPD, or
// nesting deeper than 64 elements. On error, dst comes back as it was given.
//
// dst grows once, to a bound on the output found by counting the attributes
// and end tags that could hold a URI (a second growth happens only when a
// URI attribute's name is followed by a space before its =). A dst with
// spare capacity for the output is written in place.
func (rw *Rewriter) DASH(dst, src []byte) ([]byte, error) {
	u, err := rw.uris(true)
	if err != nil {
		return dst, err
	}
	d := dashRewrite{u: u, src: src, dst: grow(dst, len(src)+dashURIs(src)*u.growth())}
	if err := d.run(); err != nil {
		return dst, err
	}
	return d.dst, nil
}

// maxDepth bounds element nesting. A real MPD nests about eight deep; the
// bound keeps the element stack a fixed array.
const maxDepth = 64

// dashRewrite copies an MPD to dst; src[done:] is what is left to copy.
type dashRewrite struct {
	u    uris
	src  []byte
	dst  []byte
	done int

	stack [maxDepth]element
	depth int
}

// element is an open element.
type element struct {
	name []byte
	// text says the element's content is a URI (BaseURL, Location,
	// PatchLocation), and content is where that content starts.
	text    textURI
	content int
	// inherited is where a relative reference in the element resolves
	// without its own BaseURL children, base where it resolves with them.
	inherited, base place
	hasBase         bool
	// used says a URI in the element was judged by base, so a BaseURL
	// child that comes later would change a decision already written.
	used bool
}

type textURI uint8

const (
	noText textURI = iota
	baseURL
	location
)

// dashURIs is about how many URIs src holds, so that the output is
// allocated once: the attributes named like URI attributes, and the end
// tags of URI elements. It overcounts (a boolean bitstreamSwitching, a start
// tag) rather than reallocate; only spaces before an attribute's = make it
// miss one, which costs a second allocation, not a wrong output.
func dashURIs(src []byte) int {
	n := 0
	for i := 0; i < len(src); i++ {
		j := bytes.IndexByte(src[i:], '=')
		if j < 0 {
			break
		}
		i += j
		if i == 0 || !bytes.Contains([]byte("anxgL"), src[i-1:i]) {
			continue // no URI attribute's name ends so: most are not
		}
		name := src[max(0, i-len("bitstreamSwitching")):i]
		for _, a := range dashURIAttributes {
			if bytes.HasSuffix(name, a) {
				n++
				break
			}
		}
	}
	for i := 0; i < len(src); i++ {
		j := bytes.IndexByte(src[i:], '>')
		if j < 0 {
			break
		}
		i += j
		name := src[max(0, i-len("Location")):i]
		if bytes.HasSuffix(name, []byte("BaseURL")) || bytes.HasSuffix(name, []byte("Location")) {
			n++
		}
	}
	return n
}

var dashURIAttributes = [...][]byte{
	[]byte("media"), []byte("initialization"), []byte("index"),
	[]byte("bitstreamSwitching"), []byte("sourceURL"),
}

func (d *dashRewrite) fail(at int, msg string) error {
	return &SyntaxError{DASH, at, msg}
}

func (d *dashRewrite) run() error {
	src := d.src
	p := 0
	if bytes.HasPrefix(src, bom) {
		p = len(bom)
	}
	rooted := false
	for p < len(src) {
		lt := bytes.IndexByte(src[p:], '<')
		if lt < 0 {
			break
		}
		p += lt
		top := d.top()
		if top != nil && top.text != noText && !bytes.HasPrefix(src[p:], []byte("</")) {
			return d.fail(p, "markup inside a URI element")
		}
		var err error
		switch {
		case bytes.HasPrefix(src[p:], []byte("<!--")):
			p, err = d.skip(p, "-->", "comment")
		case bytes.HasPrefix(src[p:], []byte("<![CDATA[")):
			p, err = d.skip(p, "]]>", "CDATA section")
		case bytes.HasPrefix(src[p:], []byte("<?")):
			p, err = d.skip(p, "?>", "processing instruction")
		case bytes.HasPrefix(src[p:], []byte("<!")):
			err = d.fail(p, "DOCTYPE or other declaration")
		case bytes.HasPrefix(src[p:], []byte("</")):
			p, err = d.endTag(p)
		case d.depth == 0 && rooted:
			err = d.fail(p, "element after the root element")
		default:
			p, err = d.startTag(p, !rooted)
			rooted = true
		}
		if err != nil {
			return err
		}
	}
	if d.depth > 0 {
		return d.fail(len(src), "unclosed element")
	}
	if !rooted {
		return d.fail(len(src), "no root element")
	}
	d.dst = append(d.dst, src[d.done:]...)
	return nil
}

func (d *dashRewrite) top() *element {
	if d.depth == 0 {
		return nil
	}
	return &d.stack[d.depth-1]
}

// skip returns the offset after the close that ends what starts at p.
func (d *dashRewrite) skip(p int, close, what string) (int, error) {
	i := bytes.Index(d.src[p:], []byte(close))
	if i < 0 {
		return 0, d.fail(p, what+" without its end")
	}
	return p + i + len(close), nil
}

func space(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// name returns the name starting at p and the offset after it.
func (d *dashRewrite) name(p int) ([]byte, int) {
	i := p
	for i < len(d.src) && !space(d.src[i]) && d.src[i] != '>' && d.src[i] != '/' && d.src[i] != '=' {
		i++
	}
	return d.src[p:i], i
}

func (d *dashRewrite) skipSpace(p int) int {
	for p < len(d.src) && space(d.src[p]) {
		p++
	}
	return p
}

// localName strips a name's namespace prefix, when it is a prefixed name
// (one colon, with something either side), as XML namespaces read names.
func localName(name []byte) []byte {
	prefix, rest, found := bytes.Cut(name, []byte(":"))
	if found && len(prefix) > 0 && len(rest) > 0 && bytes.IndexByte(rest, ':') < 0 {
		return rest
	}
	return name
}

// startTag reads the start tag at p, rewrites its URI attributes and returns
// the offset after it.
func (d *dashRewrite) startTag(p int, root bool) (int, error) {
	name, i := d.name(p + 1)
	if len(name) == 0 {
		return 0, d.fail(p, "element without a name")
	}
	elem := localName(name)
	if root && string(elem) != "MPD" {
		return 0, d.fail(p, "root element is not MPD")
	}
	// Only the root has no parent, and the root is an MPD: no element with
	// a URI in it or on it.
	parent := d.top()
	text := noText
	switch string(elem) {
	case "BaseURL":
		text = baseURL
		if parent.used {
			return 0, d.fail(p, "BaseURL after a URI it applies to")
		}
	case "Location", "PatchLocation":
		text = location
	}
	for {
		i = d.skipSpace(i)
		if i >= len(d.src) {
			return 0, d.fail(p, "start tag without its end")
		}
		if d.src[i] == '>' || bytes.HasPrefix(d.src[i:], []byte("/>")) {
			break
		}
		attr, j := d.name(i)
		if len(attr) == 0 {
			return 0, d.fail(i, "malformed attribute")
		}
		j = d.skipSpace(j)
		if j >= len(d.src) || d.src[j] != '=' {
			return 0, d.fail(i, "attribute without a value")
		}
		j = d.skipSpace(j + 1)
		if j >= len(d.src) || d.src[j] != '"' && d.src[j] != '\'' {
			return 0, d.fail(i, "attribute value without quotes")
		}
		end := bytes.IndexByte(d.src[j+1:], d.src[j])
		if end < 0 {
			return 0, d.fail(j, "attribute value without its closing quote")
		}
		v0, v1 := j+1, j+1+end
		if bytes.IndexByte(d.src[v0:v1], '<') >= 0 {
			return 0, d.fail(v0, "< in an attribute value")
		}
		if uriAttribute(elem, attr) {
			if _, err := d.uri(v0, v1, parent.base, d.depth-1); err != nil {
				return 0, err
			}
		}
		i = v1 + 1
	}
	if d.src[i] == '/' {
		if text == baseURL {
			d.addBase(parent, parent.inherited) // an empty BaseURL: the base it is in
		}
		return i + 2, nil
	}
	if d.depth == maxDepth {
		return 0, d.fail(p, "elements nested too deep")
	}
	e := element{name: name, text: text, content: i + 1, inherited: local, base: local}
	if parent != nil {
		e.inherited, e.base = parent.base, parent.base
	}
	d.stack[d.depth] = e
	d.depth++
	return i + 1, nil
}

// uriAttribute reports whether the attribute attr of the element elem (a
// local name) holds a URI or a URI template.
func uriAttribute(elem, attr []byte) bool {
	switch string(elem) {
	case "SegmentTemplate":
		switch string(attr) {
		case "media", "initialization", "index", "bitstreamSwitching":
			return true
		}
	case "SegmentURL":
		return string(attr) == "media" || string(attr) == "index"
	case "Initialization", "RepresentationIndex", "BitstreamSwitching":
		return string(attr) == "sourceURL"
	}
	return false
}

// endTag reads the end tag at p, rewrites the content of a URI element it
// closes and returns the offset after it.
func (d *dashRewrite) endTag(p int) (int, error) {
	name, i := d.name(p + 2)
	i = d.skipSpace(i)
	if i >= len(d.src) || d.src[i] != '>' {
		return 0, d.fail(p, "malformed end tag")
	}
	e := d.top()
	if e == nil || !bytes.Equal(e.name, name) {
		return 0, d.fail(p, "end tag without its start tag")
	}
	d.depth--
	switch e.text {
	case baseURL:
		// A BaseURL resolves against the base its parent is in.
		parent := d.top()
		to, err := d.uri(e.content, p, parent.inherited, d.depth-2)
		if err != nil {
			return 0, err
		}
		d.addBase(parent, to)
	case location:
		if _, err := d.uri(e.content, p, d.top().base, d.depth-1); err != nil {
			return 0, err
		}
	}
	return i + 1, nil
}

// uri rewrites the URI in src[from:to], whose relative references resolve
// against base, and says where it leads. judged is the index of the deepest
// open element whose BaseURL children base reflects: that element and those
// around it must get no further BaseURL.
func (d *dashRewrite) uri(from, to int, base place, judged int) (place, error) {
	d.dst = append(d.dst, d.src[d.done:from]...)
	var where place
	var bad int
	var ok bool
	d.dst, where, bad, ok = d.u.appendURI(d.dst, d.src[from:to], base)
	if !ok {
		return foreign, d.fail(from+bad, "malformed reference in a URI")
	}
	d.done = to
	for i := judged; i >= 0 && !d.stack[i].used; i-- {
		d.stack[i].used = true
	}
	return where, nil
}

// addBase records that the element e has a BaseURL child leading to where.
// Alternatives are all tried by players, so one foreign alternative makes
// the whole level foreign.
func (d *dashRewrite) addBase(e *element, where place) {
	if !e.hasBase || where == foreign {
		e.base = where
	}
	e.hasBase = true
}
