package aliasapi_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/aliasapi"
	"github.com/linkgate/linkgate/gate"
	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/node"
	_ "github.com/linkgate/linkgate/store/sqlitestore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// env is the API on a fresh database with two organizations.
type env struct {
	t        *testing.T
	kind     string
	url      string
	store    alias.Store
	node     *node.Node
	org      string
	token    string
	otherOrg string
	other    string
	// exec runs SQL on the database behind the API's back; "?" is the
	// parameter, on both stores.
	exec func(query string, args ...any)
}

// stores are the two databases the API runs on: every test of this file
// runs on each, as the default is the embedded store and several nodes
// need PostgreSQL.
var stores = []string{"sqlite", "postgres"}

// onBothStores runs test on the API over each store.
func onBothStores(t *testing.T, test func(t *testing.T, e *env)) {
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) { test(t, newEnv(t, kind)) })
	}
}

func newEnv(t *testing.T, kind string) *env {
	t.Helper()
	var db node.Database
	var exec func(query string, args ...any)
	switch kind {
	case "postgres":
		dsn := pgtest.DB(t)
		db = node.Database{Postgres: true, DSN: dsn}
		exec = func(query string, args ...any) {
			t.Helper()
			conn, err := pgx.Connect(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			n := 0
			query = regexp.MustCompile(`\?`).ReplaceAllStringFunc(query, func(string) string { n++; return "$" + strconv.Itoa(n) })
			if _, err := conn.Exec(context.Background(), query, args...); err != nil {
				t.Fatal(err)
			}
		}
	default:
		path := filepath.Join(t.TempDir(), "linkgate.db")
		db = node.Database{DSN: path}
		exec = func(query string, args ...any) {
			t.Helper()
			conn, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Exec(query, args...); err != nil {
				t.Fatal(err)
			}
		}
	}
	n, err := node.New(node.Config{Database: db}, node.Events{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	if err := n.Start(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	s, err := n.Backend()
	if err != nil {
		t.Fatal(err)
	}
	api := &aliasapi.API{
		Store: n.Catalog(),
		Gate: &gate.Gate{
			Source:     n,
			JWT:        gate.NewJWTVerifier(gate.DefaultJWTLeeway, gate.DefaultMaxTokenLifetime, nil),
			SessionKey: n.SessionKey,
			// High enough for the tours below, which try many wrong credentials
			// from one client; the limit itself is tested on its own.
			Limiter: gate.NewLimiter(1000, gate.DefaultFailureWindow, 1000),
		},
		Rules:  alias.Rules{MinJWTSecretLength: alias.DefaultMinJWTSecretLength},
		Logger: zap.NewNop(),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !api.Handles(r) {
			http.Error(w, "passed on", 299)
			return
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e := &env{t: t, kind: kind, url: srv.URL, store: s, node: n, exec: exec}
	e.org, e.token = e.newOrg("acme")
	e.otherOrg, e.other = e.newOrg("rival")
	return e
}

func (e *env) newOrg(name string) (orgID, token string) {
	e.t.Helper()
	ctx := context.Background()
	org, err := e.store.CreateOrg(ctx, name)
	if err != nil {
		e.t.Fatal(err)
	}
	token, hash := alias.NewOrgToken()
	if _, err := e.store.CreateToken(ctx, org.ID, "test", hash); err != nil {
		e.t.Fatal(err)
	}
	return org.ID, token
}

// response is what a client sees of an answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r response) data() map[string]any {
	d, _ := r.body["data"].(map[string]any)
	return d
}

func (r response) code() string {
	errs, _ := r.body["errors"].(map[string]any)
	code, _ := errs["code"].(string)
	return code
}

func (e *env) do(method, path, auth, body string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := response{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if res.StatusCode != 299 && method != http.MethodHead {
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			e.t.Fatalf("%s %s: Content-Type %q, body %s", method, path, ct, raw)
		}
		if err := json.Unmarshal(raw, &r.body); err != nil {
			e.t.Fatalf("%s %s: body is not JSON: %s", method, path, raw)
		}
	}
	if res.StatusCode >= 400 {
		errs, ok := r.body["errors"].(map[string]any)
		field, hasField := errs["field"]
		if !ok || len(r.body) != 1 || len(errs) != 2 && !(len(errs) == 3 && hasField) || errs["detail"] == "" || errs["code"] == "" || hasField && (field == "" || field == nil) {
			e.t.Fatalf("%s %s: error body %s is not {\"errors\":{\"detail\",\"code\"[,\"field\"]}}", method, path, raw)
		}
	}
	return r
}

func future() int64 { return time.Now().Add(24 * time.Hour).Unix() }

// create makes an alias of the first organization from a JSON body with
// the expiry filled in.
func (e *env) create(fields string) map[string]any {
	e.t.Helper()
	body := fmt.Sprintf(`{"expired_at":%d,%s}`, future(), fields)
	r := e.do("POST", "/organization/api/v1/alias/create", e.token, body)
	if r.status != http.StatusCreated {
		e.t.Fatalf("create %s: %d %s", body, r.status, r.raw)
	}
	return r.data()
}

// expire moves an alias's expiry into the past, as time would.
func (e *env) expire(id string) {
	e.t.Helper()
	past := time.Now().Add(-time.Minute)
	if e.kind == "postgres" {
		e.exec("UPDATE aliases SET expired_at = ? WHERE id = ?", past, id)
	} else {
		e.exec("UPDATE aliases SET expired_at = ? WHERE id = ?", past.UnixMicro(), id)
	}
	// Written behind the node's back: its caches must not answer for it.
	e.node.Flush()
}

const (
	secret    = "0123456789abcdef0123456789abcdef"
	streamKey = "sk-0123456789abcdef"
)

var aliasKeys = []string{"id", "type", "name", "passcode", "jwt_secret", "stream_key", "expired_at", "inserted_at"}

func checkShape(t *testing.T, d map[string]any) {
	t.Helper()
	if len(d) != len(aliasKeys) {
		t.Fatalf("alias has keys %v, want exactly %v", d, aliasKeys)
	}
	for _, k := range aliasKeys {
		if _, ok := d[k]; !ok {
			t.Fatalf("alias lacks %q: %v", k, d)
		}
	}
}

// secrets returns the passcode, jwt_secret and stream_key a caller saw.
func secrets(d map[string]any) [3]any {
	return [3]any{d["passcode"], d["jwt_secret"], d["stream_key"]}
}

func TestCreate(t *testing.T) { onBothStores(t, testCreate) }

func testCreate(t *testing.T, e *env) {
	d := e.create(`"type":"live","name":"Launch","passcode":"open-sesame","jwt_secret":"` + secret + `","stream_key":"` + streamKey + `"`)
	checkShape(t, d)
	if id, _ := d["id"].(string); len(id) != 12 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		t.Errorf("id %q is not 12 characters of [a-z0-9]", id)
	}
	if d["type"] != "live" || d["name"] != "Launch" || secrets(d) != [3]any{"open-sesame", secret, streamKey} {
		t.Errorf("created alias %v does not hold what was sent", d)
	}
	if ins := int64(d["inserted_at"].(float64)); ins < time.Now().Add(-time.Minute).Unix() || ins > time.Now().Add(time.Minute).Unix() {
		t.Errorf("inserted_at %d is not now", ins)
	}
	bare := e.create(`"type":"conference"`)
	checkShape(t, bare)
	if bare["name"] != nil || secrets(bare) != [3]any{nil, nil, nil} {
		t.Errorf("unset fields are not null: %v", bare)
	}
}

func TestCreateRefusals(t *testing.T) { onBothStores(t, testCreateRefusals) }

func testCreateRefusals(t *testing.T, e *env) {
	e.create(`"type":"live","stream_key":"` + streamKey + `"`)
	tests := []struct {
		name   string
		auth   string
		body   string
		status int
		code   string
		// field is the member the error names, "" for none.
		field string
	}{
		{"no token", "", `{"type":"live","expired_at":%d}`, 401, "unauthorized", ""},
		{"made-up token", "lgo_notatoken", `{"type":"live","expired_at":%d}`, 401, "unauthorized", ""},
		{"missing type", e.token, `{"expired_at":%d}`, 400, "missing_field", "type"},
		{"bad type", e.token, `{"type":"radio","expired_at":%d}`, 400, "invalid_field", "type"},
		{"past expiry", e.token, `{"type":"live","expired_at":1737456308%.0d}`, 400, "invalid_field", "expired_at"},
		{"short passcode", e.token, `{"type":"live","passcode":"abc","expired_at":%d}`, 400, "invalid_field", "passcode"},
		{"short jwt_secret", e.token, `{"type":"live","jwt_secret":"short","expired_at":%d}`, 400, "invalid_field", "jwt_secret"},
		{"short stream key", e.token, `{"type":"live","stream_key":"short","expired_at":%d}`, 400, "invalid_field", "stream_key"},
		{"taken stream key", e.token, `{"type":"live","stream_key":"` + streamKey + `","expired_at":%d}`, 400, "stream_key_taken", "stream_key"},
		{"unknown key", e.token, `{"type":"live","expired_at":%d,"owner":"me"}`, 400, "unknown_field", "owner"},
		{"not JSON", e.token, `type=live&expired_at=%d`, 400, "invalid_json", ""},
		{"body over 64 KiB", e.token, `{"type":"live","expired_at":%d,"name":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "body_too_large", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body
			if strings.Contains(body, "%d") {
				body = fmt.Sprintf(body, future())
			} else if strings.Contains(body, "%.0d") {
				body = strings.Replace(body, "%.0d", "", 1)
			}
			r := e.do("POST", "/organization/api/v1/alias/create", tt.auth, body)
			if r.status != tt.status || r.code() != tt.code {
				t.Fatalf("got %d %s (%s), want %d %s", r.status, r.code(), r.raw, tt.status, tt.code)
			}
			if field, _ := r.body["errors"].(map[string]any)["field"].(string); field != tt.field {
				t.Errorf("the error names field %q, want %q: %s", field, tt.field, r.raw)
			}
			if tt.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), `Bearer realm="linkgate"`) {
				t.Errorf("401 without the Bearer challenge: %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
	// A refused request loses nothing and adds nothing.
	list := e.do("GET", "/organization/api/v1/aliases", e.token, "")
	if n := len(list.body["entries"].([]any)); n != 1 {
		t.Fatalf("after the refusals the organization has %d aliases, want 1", n)
	}
}

func TestRetrieveWhoSeesWhat(t *testing.T) { onBothStores(t, testRetrieveWhoSeesWhat) }

func testRetrieveWhoSeesWhat(t *testing.T, e *env) {
	full := `,"passcode":"open-sesame","jwt_secret":"` + secret + `","stream_key":"` + streamKey + `"`
	protected := e.create(`"type":"live"` + full)["id"].(string)
	public := e.create(`"type":"conference","name":"Open room"`)["id"].(string)
	expired := e.create(`"type":"live","passcode":"open-sesame"`)["id"].(string)
	e.expire(expired)
	revokedOrg, revoked := e.newOrg("gone")
	tokens, _ := e.store.Tokens(context.Background(), revokedOrg)
	if _, err := e.store.RevokeToken(context.Background(), tokens[0].ID); err != nil {
		t.Fatal(err)
	}
	e.node.Flush()
	none := [3]any{nil, nil, nil}
	tests := []struct {
		name    string
		path    string
		auth    string
		status  int
		secrets [3]any
		invalid bool // 401 says error="invalid_token"
	}{
		{"owner token", protected, e.token, 200, [3]any{"open-sesame", secret, streamKey}, false},
		{"owner token with Bearer", protected, "Bearer " + e.token, 200, [3]any{"open-sesame", secret, streamKey}, false},
		{"right passcode", protected + "?passcode=open-sesame", "", 200, none, false},
		{"wrong passcode", protected + "?passcode=guess", "", 401, none, true},
		// An empty parameter is no credential, as at the gateway.
		{"empty passcode", protected + "?passcode=", "", 401, none, false},
		{"no credential", protected, "", 401, none, false},
		{"other organization's token", protected, e.other, 404, none, false},
		// One credential is checked, the first in the gateway's order: the
		// passcode behind another organization's token is not consulted.
		{"other organization's token and the passcode", protected + "?passcode=open-sesame", e.other, 404, none, false},
		{"revoked token", protected, revoked, 401, none, true},
		{"token with a bad checksum", protected, mistype(e.token), 401, none, true},
		{"garbage credential", protected, "Basic dXNlcjpwYXNz", 401, none, true},
		{"public alias, anyone", public, "", 200, none, false},
		{"public alias, other organization", public, e.other, 200, none, false},
		{"expired alias, passcode", expired + "?passcode=open-sesame", "", 404, none, false},
		{"expired alias, owner", expired, e.token, 200, [3]any{"open-sesame", nil, nil}, false},
		{"unknown alias", "zzzzzzzzzzzz", e.token, 404, none, false},
		{"impossible ID", "no%20such", "", 404, none, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("GET", "/api/v1/alias/"+tt.path, tt.auth, "")
			if r.status != tt.status {
				t.Fatalf("got %d %s, want %d", r.status, r.raw, tt.status)
			}
			switch tt.status {
			case 200:
				checkShape(t, r.data())
				if got := secrets(r.data()); got != tt.secrets {
					t.Fatalf("saw secrets %v, want %v", got, tt.secrets)
				}
			case 401:
				want := `Bearer realm="linkgate"`
				if tt.invalid {
					want += `, error="invalid_token"`
				}
				if got := r.header.Get("WWW-Authenticate"); got != want {
					t.Fatalf("WWW-Authenticate %q, want %q", got, want)
				}
			case 404:
				if r.code() != "alias_not_found" {
					t.Fatalf("code %q, want alias_not_found", r.code())
				}
			}
		})
	}
}

// mistype changes the last character of a token, as a typo would.
func mistype(token string) string {
	last := "x"
	if strings.HasSuffix(token, last) {
		last = "y"
	}
	return token[:len(token)-1] + last
}

func TestListPagination(t *testing.T) { onBothStores(t, testListPagination) }

func testListPagination(t *testing.T, e *env) {
	var ids []string
	for i := range 5 {
		typ := "live"
		if i%2 == 1 {
			typ = "conference"
		}
		ids = append(ids, e.create(`"type":"` + typ + `","passcode":"pass-` + fmt.Sprint(i) + `"`)["id"].(string))
	}
	e.do("POST", "/organization/api/v1/alias/create", e.other, fmt.Sprintf(`{"type":"live","expired_at":%d}`, future()))

	page := func(query string) ([]string, string) {
		t.Helper()
		r := e.do("GET", "/organization/api/v1/aliases"+query, e.token, "")
		if r.status != 200 {
			t.Fatalf("list %s: %d %s", query, r.status, r.raw)
		}
		var got []string
		for _, entry := range r.body["entries"].([]any) {
			d := entry.(map[string]any)["data"].(map[string]any)
			checkShape(t, d)
			if d["passcode"] == nil {
				t.Fatalf("the owner's list hides the passcode: %v", d)
			}
			got = append(got, d["id"].(string))
		}
		after, _ := r.body["after"].(string)
		if _, ok := r.body["after"]; !ok {
			t.Fatalf("list %s has no after key", query)
		}
		return got, after
	}

	all, after := page("")
	if fmt.Sprint(all) != fmt.Sprint(ids) || after != "" {
		t.Fatalf("whole list %v (after %q), want %v in insertion order and no next page", all, after, ids)
	}
	lives, _ := page("?type=live")
	if fmt.Sprint(lives) != fmt.Sprint([]string{ids[0], ids[2], ids[4]}) {
		t.Fatalf("type=live gave %v", lives)
	}

	// Walk pages of two while the list changes under the cursor: what
	// existed throughout is seen exactly once, in order.
	first, after := page("?limit=2")
	if fmt.Sprint(first) != fmt.Sprint(ids[:2]) || after == "" {
		t.Fatalf("first page %v after %q", first, after)
	}
	if r := e.do("DELETE", "/organization/api/v1/alias/delete/"+ids[1], e.token, ""); r.status != 200 {
		t.Fatal(r.raw)
	}
	if r := e.do("DELETE", "/organization/api/v1/alias/delete/"+ids[2], e.token, ""); r.status != 200 {
		t.Fatal(r.raw)
	}
	added := e.create(`"type":"live","passcode":"pass-new"`)["id"].(string)
	second, after := page("?limit=2&after=" + after)
	if fmt.Sprint(second) != fmt.Sprint([]string{ids[3], ids[4]}) || after == "" {
		t.Fatalf("second page %v after %q", second, after)
	}
	third, after := page("?limit=2&after=" + after)
	if fmt.Sprint(third) != fmt.Sprint([]string{added}) || after != "" {
		t.Fatalf("third page %v after %q, want the new alias and no next page", third, after)
	}

	theirs := e.do("GET", "/organization/api/v1/aliases", e.other, "")
	if n := len(theirs.body["entries"].([]any)); n != 1 {
		t.Fatalf("the other organization lists %d aliases, want its own 1", n)
	}

	for _, q := range []string{"?type=vod", "?after=garbage", "?limit=0", "?limit=501", "?limit=ten"} {
		if r := e.do("GET", "/organization/api/v1/aliases"+q, e.token, ""); r.status != 400 {
			t.Errorf("list %s: %d, want 400", q, r.status)
		}
	}
	if r := e.do("GET", "/organization/api/v1/aliases", "", ""); r.status != 401 {
		t.Errorf("list without a token: %d", r.status)
	}
}

func TestListDefaultLimit(t *testing.T) { onBothStores(t, testListDefaultLimit) }

func testListDefaultLimit(t *testing.T, e *env) {
	for range aliasapi.DefaultListLimit + 1 {
		e.create(`"type":"live"`)
	}
	r := e.do("GET", "/organization/api/v1/aliases", e.token, "")
	if n := len(r.body["entries"].([]any)); n != aliasapi.DefaultListLimit || r.body["after"] == nil {
		t.Fatalf("got %d entries and after %v, want %d and a cursor", n, r.body["after"], aliasapi.DefaultListLimit)
	}
}

func TestUpdate(t *testing.T) { onBothStores(t, testUpdate) }

func testUpdate(t *testing.T, e *env) {
	d := e.create(`"type":"live","name":"Before","passcode":"open-sesame","stream_key":"` + streamKey + `"`)
	id := d["id"].(string)
	taken := e.create(`"type":"live","stream_key":"sk-taken-0123456789"`)["id"].(string)
	foreign := ""
	if r := e.do("POST", "/organization/api/v1/alias/create", e.other, fmt.Sprintf(`{"type":"live","name":"Theirs","expired_at":%d}`, future())); r.status == 201 {
		foreign = r.data()["id"].(string)
	}

	r := e.do("POST", "/organization/api/v1/alias/update/"+id, e.token, `{"name":"After"}`)
	if r.status != 200 || r.data()["name"] != "After" || r.data()["passcode"] != "open-sesame" || r.data()["type"] != "live" {
		t.Fatalf("partial update: %d %s", r.status, r.raw)
	}
	checkShape(t, r.data())
	r = e.do("POST", "/organization/api/v1/alias/update/"+id, e.token, `{"type":"conference","passcode":null,"stream_key":null}`)
	if r.status != 200 || r.data()["type"] != "conference" || r.data()["passcode"] != nil || r.data()["stream_key"] != nil || r.data()["name"] != "After" {
		t.Fatalf("update with nulls: %d %s", r.status, r.raw)
	}
	if r.data()["inserted_at"] != d["inserted_at"] {
		t.Errorf("inserted_at moved from %v to %v", d["inserted_at"], r.data()["inserted_at"])
	}
	// The freed stream key can be taken by another alias.
	if r := e.do("POST", "/organization/api/v1/alias/update/"+taken, e.token, `{"stream_key":"`+streamKey+`"}`); r.status != 200 {
		t.Fatalf("taking a freed stream key: %d %s", r.status, r.raw)
	}

	tests := []struct {
		name, id, auth, body, code string
		status                     int
	}{
		{"unknown alias", "zzzzzzzzzzzz", e.token, `{"name":"x"}`, "alias_not_found", 400},
		{"another organization's alias", foreign, e.token, `{"name":"Mine now"}`, "alias_not_found", 400},
		{"type null", id, e.token, `{"type":null}`, "invalid_field", 400},
		{"expired_at null", id, e.token, `{"expired_at":null}`, "invalid_field", 400},
		{"expired_at past", id, e.token, `{"expired_at":1000}`, "invalid_field", 400},
		{"taken stream key", id, e.token, `{"stream_key":"` + streamKey + `"}`, "stream_key_taken", 400},
		{"unknown key", id, e.token, `{"nmae":"typo"}`, "unknown_field", 400},
		{"not JSON", id, e.token, `name=x`, "invalid_json", 400},
		{"no token", id, "", `{"name":"x"}`, "unauthorized", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("POST", "/organization/api/v1/alias/update/"+tt.id, tt.auth, tt.body)
			if r.status != tt.status || r.code() != tt.code {
				t.Fatalf("got %d %s, want %d %s", r.status, r.raw, tt.status, tt.code)
			}
		})
	}
	// Nothing the refusals touched changed.
	r = e.do("GET", "/api/v1/alias/"+id, e.token, "")
	if r.data()["name"] != "After" || r.data()["type"] != "conference" {
		t.Fatalf("a refused update changed the alias: %s", r.raw)
	}
	r = e.do("GET", "/api/v1/alias/"+foreign, e.other, "")
	if r.data()["name"] != "Theirs" {
		t.Fatalf("another organization changed an alias: %s", r.raw)
	}
}

func TestDelete(t *testing.T) { onBothStores(t, testDelete) }

func testDelete(t *testing.T, e *env) {
	id := e.create(`"type":"live","passcode":"open-sesame"`)["id"].(string)
	if r := e.do("DELETE", "/organization/api/v1/alias/delete/"+id, e.other, ""); r.status != 404 {
		t.Fatalf("another organization deleting: %d", r.status)
	}
	if r := e.do("DELETE", "/organization/api/v1/alias/delete/"+id, "", ""); r.status != 401 {
		t.Fatalf("deleting without a token: %d", r.status)
	}
	r := e.do("DELETE", "/organization/api/v1/alias/delete/"+id, "Bearer "+e.token, "")
	if r.status != 200 || r.raw != `{"message":"Alias deleted successfully."}`+"\n" {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	if r := e.do("DELETE", "/organization/api/v1/alias/delete/"+id, e.token, ""); r.status != 404 || r.code() != "alias_not_found" {
		t.Fatalf("deleting twice: %d %s", r.status, r.raw)
	}
	if r := e.do("GET", "/api/v1/alias/"+id+"?passcode=open-sesame", "", ""); r.status != 404 {
		t.Fatalf("a deleted alias still answers: %d", r.status)
	}
}

func TestRoutingAndMethods(t *testing.T) { onBothStores(t, testRoutingAndMethods) }

func testRoutingAndMethods(t *testing.T, e *env) {
	tests := []struct {
		method, path string
		status       int
		allow        string
		// code is the error code of an API answer; "" for none.
		code string
	}{
		{"POST", "/api/v1/alias/abc", 405, "GET, HEAD", "method_not_allowed"},
		{"GET", "/organization/api/v1/alias/create", 405, "POST", "method_not_allowed"},
		{"GET", "/organization/api/v1/alias/update/abc", 405, "POST", "method_not_allowed"},
		{"POST", "/organization/api/v1/alias/delete/abc", 405, "DELETE", "method_not_allowed"},
		{"PUT", "/organization/api/v1/aliases", 405, "GET, HEAD", "method_not_allowed"},
		{"GET", "/live/abc", 299, "", ""},
		{"GET", "/api/v2/alias/abc", 299, "", ""},
		// The API's prefixes are the API's: what is under them but names
		// no endpoint, or an alias that cannot exist, is answered in JSON
		// rather than passed to whatever handler comes next.
		{"GET", "/api/v1/alias/abc/extra", 404, "", "alias_not_found"},
		{"GET", "/api/v1/alias/a%2Fb", 404, "", "alias_not_found"},
		{"GET", "/api/v1/alias/", 404, "", "alias_not_found"},
		{"GET", "/api/v1/alias", 404, "", "not_found"},
		{"GET", "/organization/api/v1/aliases/", 404, "", "not_found"},
		{"GET", "/organization/api/v1/", 404, "", "not_found"},
		{"POST", "/organization/api/v1/alias/update/a/b", 400, "", "alias_not_found"},
		{"DELETE", "/organization/api/v1/alias/delete/a%2Fb", 404, "", "alias_not_found"},
	}
	for _, tt := range tests {
		body := ""
		if tt.method == "POST" {
			body = `{"name":"x"}`
		}
		r := e.do(tt.method, tt.path, e.token, body)
		if r.status != tt.status || r.header.Get("Allow") != tt.allow || r.status != 299 && r.code() != tt.code {
			t.Errorf("%s %s: %d Allow %q %s, want %d Allow %q %s", tt.method, tt.path, r.status, r.header.Get("Allow"), r.raw, tt.status, tt.allow, tt.code)
		}
	}
}

func TestResponsesAreNotCached(t *testing.T) { onBothStores(t, testResponsesAreNotCached) }

func testResponsesAreNotCached(t *testing.T, e *env) {
	id := e.create(`"type":"live"`)["id"].(string)
	r := e.do("GET", "/api/v1/alias/"+id, e.token, "")
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("a response with secrets may be cached: Cache-Control %q", r.header.Get("Cache-Control"))
	}
}
