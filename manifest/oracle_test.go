package manifest

// The oracle: a second reading of playlists and manifests, written from the
// rules the package documents but sharing none of its code (line splitting
// and regular expressions for HLS, encoding/xml for DASH, net/url for hosts),
// so that tests judge the rewriter by something other than itself.

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const (
	testParam = "lgt"
	testToken = "a1B2-c3_d4"
	// added is what an eligible URI carries after rewriting.
	added = testParam + "=" + testToken
)

func testRewriter() *Rewriter {
	return &Rewriter{Param: testParam, Token: testToken, Origin: &url.URL{Scheme: "https", Host: "gw.example"}}
}

// oracleURI is one URI of a document as the oracle reads it, decoded, and
// whether the token may go where it leads.
type oracleURI struct {
	text     string
	eligible bool
}

// oracleHLSTags are the tags whose URI attribute names a resource.
var oracleHLSTags = map[string]bool{
	"#EXT-X-MAP": true, "#EXT-X-KEY": true, "#EXT-X-SESSION-KEY": true,
	"#EXT-X-MEDIA": true, "#EXT-X-I-FRAME-STREAM-INF": true,
	"#EXT-X-SESSION-DATA": true, "#EXT-X-PART": true,
	"#EXT-X-PRELOAD-HINT": true, "#EXT-X-RENDITION-REPORT": true,
}

// oracleHLS lists a playlist's URIs in order: URI lines and URI attributes.
func oracleHLS(doc string) []oracleURI {
	var uris []oracleURI
	doc = strings.TrimPrefix(doc, "\uFEFF")
	for _, line := range strings.Split(doc, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if !strings.HasPrefix(line, "#") {
			if strings.TrimFunc(line, isSpaceOrControl) != "" {
				uris = append(uris, oracleURI{line, oracleEligible(line, true, true)})
			}
			continue
		}
		tag, list, ok := strings.Cut(line, ":")
		if !ok || !oracleHLSTags[tag] {
			continue
		}
		for _, attr := range splitUnquoted(list, ',') {
			name, value, _ := strings.Cut(attr, "=")
			if strings.Trim(name, " \t") != "URI" {
				continue
			}
			value = strings.TrimRight(value, " \t")
			if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1]
			}
			if strings.TrimFunc(value, isSpaceOrControl) != "" {
				uris = append(uris, oracleURI{value, oracleEligible(value, true, true)})
			}
		}
	}
	return uris
}

// splitUnquoted splits s at every sep that is not between double quotes.
func splitUnquoted(s string, sep byte) []string {
	var parts []string
	quoted, from := false, 0
	for i := range len(s) {
		switch {
		case s[i] == '"':
			quoted = !quoted
		case s[i] == sep && !quoted:
			parts = append(parts, s[from:i])
			from = i + 1
		}
	}
	return append(parts, s[from:])
}

func isSpaceOrControl(r rune) bool { return r <= ' ' }

func isControl(r rune) bool { return r < ' ' }

var schemeRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*):`)

// oracleEligible applies the documented rules to one URI: ref is eligible
// when it leads to https://gw.example, a relative reference leading where
// baseLocal says.
func oracleEligible(ref string, baseLocal, hls bool) bool {
	s := strings.TrimFunc(ref, isSpaceOrControl)
	switch {
	case s == "" || strings.HasPrefix(s, "#"):
		return false // the document itself
	case hls && strings.Contains(ref, "{$"):
		return false
	case strings.IndexFunc(s, isControl) >= 0:
		return false
	}
	if m := schemeRE.FindStringSubmatch(s); m != nil {
		rest := s[len(m[0]):]
		return strings.EqualFold(m[1], "https") && len(rest) >= 2 &&
			strings.ContainsRune(`/\`, rune(rest[0])) && strings.ContainsRune(`/\`, rune(rest[1])) &&
			oracleSameHost(rest)
	}
	if len(s) >= 2 && strings.ContainsRune(`/\`, rune(s[0])) && strings.ContainsRune(`/\`, rune(s[1])) {
		return oracleSameHost(s)
	}
	return baseLocal
}

// oracleSameHost reports whether the authority after the leading slashes of s
// is gw.example on port 443.
func oracleSameHost(s string) bool {
	s = strings.TrimLeft(s, `/\`)
	if i := strings.IndexAny(s, `/\?#`); i >= 0 {
		s = s[:i]
	}
	if strings.ContainsAny(s, "%@") {
		return false
	}
	u, err := url.Parse("https://" + s + "/")
	if err != nil {
		return false
	}
	for _, r := range u.Hostname() {
		if r >= 0x80 {
			return false
		}
	}
	port := 443
	if u.Port() != "" {
		if port, err = strconv.Atoi(u.Port()); err != nil {
			return false
		}
	}
	return strings.ToLower(u.Hostname()) == "gw.example" && port == 443
}

// carriesToken reports whether the URI has the parameter, with the token, as
// exactly one of its query components.
func carriesToken(ref string) bool {
	ref, _, _ = strings.Cut(ref, "#")
	_, query, ok := strings.Cut(ref, "?")
	if !ok {
		return false
	}
	n := 0
	for _, c := range strings.Split(strings.TrimFunc(query, isSpaceOrControl), "&") {
		if strings.HasPrefix(c, testParam+"=") || c == testParam {
			if c != added {
				return false
			}
			n++
		}
	}
	return n == 1
}

// stripAdded takes out of out every lgt=TOKEN and, when in has no such
// character there, the separator (one of seps) before it. The result equals
// in exactly when out is in with the parameter added and nothing else.
// It assumes in holds no lgt, so every occurrence in out was added.
func stripAdded(in, out string, seps ...string) string {
	var b strings.Builder
	for {
		k := strings.Index(out, added)
		if k < 0 {
			b.WriteString(out)
			return b.String()
		}
		seg := out[:k]
		rest := ""
		if b.Len() <= len(in) {
			rest = in[b.Len():]
		}
		if !strings.HasPrefix(rest, seg) {
			for _, sep := range seps {
				if t, ok := strings.CutSuffix(seg, sep); ok && strings.HasPrefix(rest, t) {
					seg = t
					break
				}
			}
		}
		b.WriteString(seg)
		out = out[k+len(added):]
	}
}

// node is an element of an MPD as encoding/xml reads it.
type node struct {
	name     string // local name
	attrs    []xml.Attr
	text     string // character data directly inside
	children []*node
}

// parseXML reads a document into a tree, or fails if it is not well formed.
func parseXML(doc string) (*node, error) {
	d := xml.NewDecoder(strings.NewReader(doc))
	root := &node{}
	stack := []*node{root}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		top := stack[len(stack)-1]
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{name: tok.Name.Local, attrs: tok.Attr}
			top.children = append(top.children, n)
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			top.text += string(tok)
		}
	}
	if len(root.children) != 1 {
		return nil, errors.New("not exactly one root element")
	}
	return root.children[0], nil
}

// oracleDASHAttrs are the URI attributes, by element.
var oracleDASHAttrs = map[string][]string{
	"SegmentTemplate":     {"media", "initialization", "index", "bitstreamSwitching"},
	"SegmentURL":          {"media", "index"},
	"Initialization":      {"sourceURL"},
	"RepresentationIndex": {"sourceURL"},
	"BitstreamSwitching":  {"sourceURL"},
}

// oracleDASH lists a manifest's URIs in document order. A relative reference
// leads where the BaseURL elements of its ancestors lead: each level with
// BaseURL children leads to the origin only if every one of them does.
func oracleDASH(root *node) []oracleURI {
	var uris []oracleURI
	var walk func(n *node, inherited bool)
	walk = func(n *node, inherited bool) {
		base, hasBase := true, false
		for _, c := range n.children {
			if c.name == "BaseURL" {
				base = base && (oracleRelative(c.text) && inherited || oracleEligible(c.text, false, false))
				hasBase = true
			}
		}
		if !hasBase {
			base = inherited
		}
		for _, c := range n.children {
			for _, a := range c.attrs {
				if a.Name.Space == "" && contains(oracleDASHAttrs[c.name], a.Name.Local) {
					uris = append(uris, oracleURI{a.Value, oracleEligible(a.Value, base, false)})
				}
			}
			switch c.name {
			case "BaseURL":
				uris = append(uris, oracleURI{c.text, oracleEligible(c.text, inherited, false)})
			case "Location", "PatchLocation":
				uris = append(uris, oracleURI{c.text, oracleEligible(c.text, base, false)})
			default:
				walk(c, base)
			}
		}
	}
	walk(root, true)
	return uris
}

// oracleRelative reports whether ref resolves against a base: it is empty
// or a relative reference that is not a network-path one.
func oracleRelative(ref string) bool {
	s := strings.TrimFunc(ref, isSpaceOrControl)
	if s == "" {
		return true
	}
	if strings.IndexFunc(s, isControl) >= 0 || schemeRE.MatchString(s) {
		return false
	}
	return !(len(s) >= 2 && strings.ContainsRune(`/\`, rune(s[0])) && strings.ContainsRune(`/\`, rune(s[1])))
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// checkURIs compares the URIs of the input and of the output pairwise: an
// eligible one must carry the token once, any other must be unchanged.
// It returns how many carry the token.
func checkURIs(t testing.TB, in, out []oracleURI) int {
	t.Helper()
	if len(in) != len(out) {
		t.Fatalf("input has %d URIs, output %d", len(in), len(out))
	}
	n := 0
	for i := range in {
		switch {
		case in[i].eligible && !carriesToken(out[i].text):
			t.Errorf("URI %d %q became %q: want it with %s once", i, in[i].text, out[i].text, added)
		case !in[i].eligible && out[i].text != in[i].text:
			t.Errorf("URI %d %q became %q: want it unchanged", i, in[i].text, out[i].text)
		case in[i].eligible:
			n++
		}
	}
	return n
}

// checkHLS checks a rewritten playlist against its input with the oracle and
// returns how many URIs carry the token.
func checkHLS(t testing.TB, in, out string) int {
	t.Helper()
	if got := stripAdded(in, out, "?", "&"); got != in {
		t.Fatalf("output without the parameter differs from the input:\n%s", firstDiff(in, got))
	}
	return checkURIs(t, oracleHLS(in), oracleHLS(out))
}

// checkDASH checks a rewritten manifest against its input with the oracle
// and returns how many URIs carry the token. A well-formed input must give
// a well-formed output.
func checkDASH(t testing.TB, in, out string) int {
	t.Helper()
	if got := stripAdded(in, out, "?", "&amp;"); got != in {
		t.Fatalf("output without the parameter differs from the input:\n%s", firstDiff(in, got))
	}
	inRoot, err := parseXML(in)
	if err != nil {
		return 0
	}
	outRoot, err := parseXML(out)
	if err != nil {
		t.Fatalf("input is well-formed XML, output is not: %v", err)
	}
	return checkURIs(t, oracleDASH(inRoot), oracleDASH(outRoot))
}

// firstDiff shows where two texts part.
func firstDiff(want, got string) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	from := max(0, i-40)
	return fmt.Sprintf("at byte %d:\nwant …%q\ngot  …%q", i, want[from:min(len(want), i+40)], got[from:min(len(got), i+40)])
}

// hasParam reports whether the test parameter could be in doc, in XML even
// written with character references, so that it would be replaced rather
// than added.
func hasParam(doc []byte, xml bool) bool {
	return bytes.Contains(doc, []byte(testParam)) || xml && strings.Contains(html.UnescapeString(string(doc)), testParam)
}

// TestOracleAgreesWithGolden checks the oracle against the hand-written
// expected outputs: for every golden case without the parameter in its input
// it must find exactly the URIs the case marks with {T}. A fuzz target whose
// oracle were blind would pass anything.
func TestOracleAgreesWithGolden(t *testing.T) {
	for _, tc := range hlsCases {
		if strings.Contains(tc.in, testParam) {
			continue
		}
		t.Run("HLS/"+tc.name, func(t *testing.T) {
			if n, want := checkHLS(t, tc.in, golden(tc.want)), strings.Count(tc.want, "{T}"); n != want {
				t.Errorf("oracle finds %d URIs with the token, the golden output has %d", n, want)
			}
		})
	}
	for _, tc := range dashCases {
		if hasParam([]byte(tc.in), true) {
			continue
		}
		t.Run("DASH/"+tc.name, func(t *testing.T) {
			if n, want := checkDASH(t, tc.in, golden(tc.want)), strings.Count(tc.want, "{T}"); n != want {
				t.Errorf("oracle finds %d URIs with the token, the golden output has %d", n, want)
			}
		})
	}
}
