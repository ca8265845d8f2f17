package caddymodule_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/linkgate/linkgate/caddymodule"
	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/internal/testcaddy"
	"github.com/linkgate/linkgate/store/pgstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// client bounds every request, so a handler that hangs (on a database that
// is down, say) fails the test instead of stalling it. Without keep-alives
// no idle connection outlives a config or counts as a leaked goroutine.
var client = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

// site describes a test Caddyfile: the alias API on a free 127.0.0.1 port,
// followed by a respond that shows which requests the API passed on.
type site struct {
	database string // the linkgate database option, verbatim
	global   string // extra global options
	routes   string // extra directives of the site
}

// fallthroughStatus is what the site answers for requests alias_api passes on.
const fallthroughStatus = 299

// caddyfile renders s on a free port.
func (s site) caddyfile(t *testing.T) (text, baseURL string) {
	t.Helper()
	port := testcaddy.FreePort(t)
	text = fmt.Sprintf(`{
	%s
	%s
	linkgate {
		database %s
	}
}

http://127.0.0.1:%d {
	bind 127.0.0.1
	alias_api
	%s
	respond "fallthrough" %d
}
`, testcaddy.GlobalOptions(t.TempDir()), s.global, s.database, port, s.routes, fallthroughStatus)
	// Formatted, or Caddy warns about the blank lines left by empty parts.
	return string(caddyfile.Format([]byte(text))), fmt.Sprintf("http://127.0.0.1:%d", port)
}

// startCaddy runs the test site on database and returns its base URL.
func startCaddy(t *testing.T, database string) string {
	t.Helper()
	text, baseURL := site{database: database}.caddyfile(t)
	testcaddy.Load(t, text)
	return baseURL
}

// newOrg creates an organization and a token of it in the database at dsn.
// It leaves the schema to the caller: tests start Caddy first, whose linkgate
// app must have applied it.
func newOrg(t *testing.T, dsn string) (orgID, token string) {
	t.Helper()
	s, err := pgstore.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return testcaddy.NewOrg(t, s)
}

// response is an answer of the server, with its body decoded when it is
// JSON.
type response struct {
	status int
	header http.Header
	raw    []byte
	json   map[string]any
}

// do sends a request; auth goes in the Authorization header unless empty,
// body is sent as JSON unless empty.
func do(t *testing.T, method, url, auth, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&r.json); err != nil {
			t.Fatalf("%s %s: the JSON body does not decode to an object: %v\n%s", method, url, err, raw)
		}
	}
	return r
}

// wantJSON fails the test unless r has status and a JSON body.
func wantJSON(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body: %s", r.status, status, r.raw)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want application/json; body: %s", ct, r.raw)
	}
}

// wantError fails the test unless r is the documented error: status, and
// the body {"errors":{"detail":"...","code":code}} with nothing else.
func wantError(t *testing.T, r response, status int, code string) {
	t.Helper()
	wantJSON(t, r, status)
	errs, ok := r.json["errors"].(map[string]any)
	delete(errs, "field")
	if len(r.json) != 1 || !ok || len(errs) != 2 {
		t.Fatalf(`body %s, want exactly {"errors":{"detail":...,"code":...[,"field":...]}}`, r.raw)
	}
	if detail, _ := errs["detail"].(string); detail == "" {
		t.Errorf("body %s: errors.detail is not a non-empty string", r.raw)
	}
	if errs["code"] != code {
		t.Errorf("body %s: errors.code is %v, want %q", r.raw, errs["code"], code)
	}
}

// aliasKeys are the keys of the alias object, each always present.
var aliasKeys = []string{"expired_at", "id", "inserted_at", "jwt_secret", "name", "passcode", "stream_key", "type"}

// wantAlias fails the test unless r is {"data": alias} with status and the
// alias in its full shape, and returns the alias.
func wantAlias(t *testing.T, r response, status int) map[string]any {
	t.Helper()
	wantJSON(t, r, status)
	a, ok := r.json["data"].(map[string]any)
	if len(r.json) != 1 || !ok {
		t.Fatalf(`body %s, want {"data": alias}`, r.raw)
	}
	checkAliasShape(t, a)
	return a
}

func checkAliasShape(t *testing.T, a map[string]any) {
	t.Helper()
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, aliasKeys) {
		t.Fatalf("alias has keys %v, want %v", keys, aliasKeys)
	}
	for _, k := range []string{"id", "type"} {
		if s, _ := a[k].(string); s == "" {
			t.Errorf("alias %s is %#v, want a non-empty string", k, a[k])
		}
	}
	for _, k := range []string{"name", "passcode", "jwt_secret", "stream_key"} {
		if _, isString := a[k].(string); a[k] != nil && !isString {
			t.Errorf("alias %s is %#v, want a string or null", k, a[k])
		}
	}
	for _, k := range []string{"expired_at", "inserted_at"} {
		if n, ok := a[k].(json.Number); !ok || strings.ContainsAny(n.String(), ".eE") {
			t.Errorf("alias %s is %#v, want integer Unix seconds", k, a[k])
		}
	}
}

// unix reads an integer time of an alias.
func unix(t *testing.T, v any) int64 {
	t.Helper()
	n, err := v.(json.Number).Int64()
	if err != nil {
		t.Fatalf("%v is not an integer: %v", v, err)
	}
	return n
}

// inAnHour is an expired_at that validation accepts.
func inAnHour() int64 { return time.Now().Add(time.Hour).Unix() }
