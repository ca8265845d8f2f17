package caddymodule_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/internal/testcaddy"
	"github.com/linkgate/linkgate/store/storetest"
)

// TestOrganizerCLI runs the organizer's commands of the built binary (org,
// alias, jwt, migrate) on each store, beside a "caddy run" of the same
// database: what they print with --json must be what the HTTP API
// answers, byte for byte; their refusals must say why, and exit non-zero;
// and a token from "jwt sign" must open the alias at the gateway.
func TestOrganizerCLI(t *testing.T) {
	bin := testcaddy.BuildCaddy(t)
	for _, store := range []struct {
		name, migrations string
		database         func(t *testing.T) string
	}{
		{"sqlite", "../store/sqlitestore/migrations", func(t *testing.T) string {
			return "sqlite:" + filepath.Join(t.TempDir(), "linkgate.db")
		}},
		{"postgres", "../store/pgstore/migrations", func(t *testing.T) string { return pgtest.DB(t) }},
	} {
		t.Run(store.name, func(t *testing.T) {
			testOrganizerCLI(t, bin, store.database(t), store.migrations)
		})
	}
}

// organizerCLI runs "caddy linkgate" commands in a directory whose
// Caddyfile names the database and the rules.
type organizerCLI struct {
	bin, dir string
	env      []string
}

func (c *organizerCLI) run(stdin string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command(c.bin, append([]string{"linkgate"}, args...)...)
	cmd.Dir, cmd.Env = c.dir, c.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// ok runs a command that must succeed and returns its standard output.
func (c *organizerCLI) ok(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, err := c.run("", args...)
	if err != nil {
		t.Fatalf("caddy linkgate %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout
}

// fails runs a command that must exit with a non-zero status, and returns
// what it printed.
func (c *organizerCLI) fails(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, err := c.run("", args...)
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Errorf("caddy linkgate %s: %v, want a non-zero exit\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout, stderr
}

// refuses runs a command that must fail saying want on standard error.
func (c *organizerCLI) refuses(t *testing.T, want string, args ...string) {
	t.Helper()
	if _, stderr := c.fails(t, args...); !strings.Contains(stderr, want) {
		t.Errorf("caddy linkgate %s printed\n%s\nwant it to say %q", strings.Join(args, " "), stderr, want)
	}
}

// orgEntry is an organization as "org list --json" prints it.
type orgEntry struct {
	OrgID     string    `json:"org_id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// theRules are the rules of the test's config that differ from the
// defaults, so that a command that ignored the config would be caught.
const theRules = `max_token_lifetime 2h
		min_jwt_secret_length 40`

// A jwt_secret the config accepts, and one it refuses.
const (
	longSecret  = "a-jwt-secret-of-forty-bytes-or-more-0123456789"
	shortSecret = "0123456789abcdef0123456789abcdef"
)

var aliasIDShape = regexp.MustCompile(`^[a-z0-9]{12}\n$`)

func testOrganizerCLI(t *testing.T, bin, database, migrationsDir string) {
	port := testcaddy.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	text := fmt.Sprintf(`{
	%s
	linkgate {
		database %s
		%s
	}
}

http://127.0.0.1:%d {
	bind 127.0.0.1
	alias_api {
		throttle off
	}
	handle /live/* {
		alias_auth live {
			throttle off
		}
		respond "role={http.linkgate.role} user={http.linkgate.user}" 200
	}
	respond "fallthrough" %d
}
`, testcaddy.GlobalOptions(t.TempDir()), database, theRules, port, fallthroughStatus)
	// Formatted, or Caddy warns of it in every command's output.
	config := string(caddyfile.Format([]byte(text)))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Caddyfile"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	c := &organizerCLI{bin: bin, dir: dir, env: append(os.Environ(), "HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_DATA_HOME="+filepath.Join(home, "data"))}

	// Before any server: a new database, migrated by hand.
	files := storetest.MigrationFiles(t, migrationsDir)
	if out, want := c.ok(t, "migrate"), "Applied "+strings.Join(files, ", ")+". Database schema up to date.\n"; out != want {
		t.Errorf("migrate on a new database printed %q, want %q", out, want)
	}
	if out := c.ok(t, "migrate"); out != "Database schema already up to date.\n" {
		t.Errorf("migrate again printed %q", out)
	}
	if out := c.ok(t, "migrate", "--json"); out != `{"applied":[]}`+"\n" {
		t.Errorf("migrate --json printed %q", out)
	}
	c.refuses(t, "no organization yet", "alias", "list")
	if out := c.ok(t, "org", "list", "--json"); out != "[]\n" {
		t.Errorf("org list --json of no organization printed %q", out)
	}

	// With one organization, --org may be left out.
	acmeToken := strings.TrimSpace(c.ok(t, "org", "create", "acme", "-q"))
	wantToken(t, acmeToken)
	before := time.Now().Unix()
	var first struct {
		Data map[string]any `json:"data"`
	}
	decodeLine(t, c.ok(t, "alias", "create", "--type", "live", "--name", "Launch", "--passcode", passcode,
		"--jwt-secret", longSecret, "--stream-key", streamKey, "--expires", "24h", "--json"), &first)
	after := time.Now().Unix()
	launch, _ := first.Data["id"].(string)
	for field, want := range map[string]any{"type": "live", "name": "Launch", "passcode": passcode, "jwt_secret": longSecret, "stream_key": streamKey} {
		if first.Data[field] != want {
			t.Errorf("alias create --json printed %s %v, want %v", field, first.Data[field], want)
		}
	}
	if exp, _ := first.Data["expired_at"].(float64); int64(exp) < before+86400 || int64(exp) > after+86400 {
		t.Errorf("--expires 24h gave expired_at %v, want 24 hours after %d..%d", first.Data["expired_at"], before, after)
	}

	server := testcaddy.Run(t, bin, "caddy run", config, "HOME="+home)
	server.WaitReady(t, func() bool {
		resp, err := client.Get(base + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == fallthroughStatus
	})

	// sameAsAPI fails the test unless the server answers the request with
	// the body want, byte for byte. A GET is asked again for a while: the
	// server's cache hears of a command's change within a second or so.
	sameAsAPI := func(t *testing.T, what, want, method, path, token string, body []byte) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		got := do(t, method, base+path, token, string(body))
		for string(got.raw) != want && method == http.MethodGet && time.Now().Before(deadline) {
			<-time.After(50 * time.Millisecond)
			got = do(t, method, base+path, token, string(body))
		}
		if string(got.raw) != want {
			t.Errorf("%s: the command printed\n%s\nthe API answers %s %s with %d\n%s", what, want, method, path, got.status, got.raw)
		}
	}

	// More organizations: a second "acme", one whose name differs in
	// case only, and globex.
	c.refuses(t, "exists already", "org", "create", "acme")
	wantToken(t, strings.TrimSpace(c.ok(t, "org", "create", "acme", "--allow-duplicate", "-q")))
	c.ok(t, "org", "create", "Acme")
	globexCreated := orgCreated(t, c.ok(t, "org", "create", "globex", "--json"))
	var orgs []orgEntry
	decodeLine(t, c.ok(t, "org", "list", "--json"), &orgs)
	if len(orgs) != 4 {
		t.Fatalf("org list --json shows %d organizations, want 4: %+v", len(orgs), orgs)
	}
	acme, caseAcme, globex := orgs[0].OrgID, orgs[2].OrgID, orgs[3].OrgID

	t.Run("organizations", func(t *testing.T) {
		var names []string
		for _, o := range orgs {
			names = append(names, o.Name)
			if !strings.HasPrefix(o.OrgID, "org_") || o.CreatedAt.IsZero() {
				t.Errorf("org list --json shows %+v", o)
			}
		}
		if want := []string{"acme", "acme", "Acme", "globex"}; !slices.Equal(names, want) {
			t.Fatalf("org list --json shows %q, want %q, oldest first", names, want)
		}
		if globex != globexCreated.OrgID {
			t.Errorf("org list --json shows globex as %s, org create said %s", globex, globexCreated.OrgID)
		}
		text := c.ok(t, "org", "list")
		for _, o := range orgs {
			if !strings.Contains(text, o.OrgID) {
				t.Errorf("org list does not show %s:\n%s", o.OrgID, text)
			}
		}
		_, stderr := c.fails(t, "org", "create", "acme")
		if !strings.Contains(stderr, orgs[0].OrgID) || !strings.Contains(stderr, orgs[1].OrgID) || !strings.Contains(stderr, "--allow-duplicate") {
			t.Errorf("org create of a taken name printed\n%s\nwant both IDs and the flag that allows it", stderr)
		}
		var after []orgEntry
		decodeLine(t, c.ok(t, "org", "list", "--json"), &after)
		if len(after) != 4 {
			t.Errorf("a refused org create made an organization: %d now", len(after))
		}

		c.refuses(t, "--org is needed: the database holds 4 organizations", "alias", "list")
		_, stderr = c.fails(t, "alias", "list", "--org", "acme")
		if !strings.Contains(stderr, "2 organizations are named \"acme\"") || !strings.Contains(stderr, orgs[0].OrgID) || !strings.Contains(stderr, orgs[1].OrgID) {
			t.Errorf("alias list --org of an ambiguous name printed\n%s\nwant both IDs", stderr)
		}
		c.refuses(t, `no organization is named "ACME"`, "alias", "list", "--org", "ACME")
		c.refuses(t, `no organization has the ID "org_nosuchorg0000000"`, "alias", "list", "--org", "org_nosuchorg0000000")
		c.refuses(t, "not blank", "org", "create", " ")
		c.refuses(t, "2 organizations are named", "token", "create", "acme")
		wantToken(t, strings.TrimSpace(c.ok(t, "token", "create", "Acme", "-q")))
		c.refuses(t, "unknown flag", "org", "list", "--colour")
		c.refuses(t, "accepts 1 arg", "org", "create")
		c.refuses(t, "none of the others can be", "org", "create", "x", "--json", "-q")
	})

	caseAcmeToken := strings.TrimSpace(c.ok(t, "token", "create", caseAcme, "-q"))
	globexToken := strings.TrimSpace(c.ok(t, "token", "create", "globex", "-q"))
	foreign := strings.TrimSpace(c.ok(t, "alias", "create", "--org", "globex", "--type", "live", "--passcode", "their-secret", "--expires", "1h", "-q"))

	t.Run("show and create", func(t *testing.T) {
		sameAsAPI(t, "alias show --json", c.ok(t, "alias", "show", launch, "--org", acme, "--json"), "GET", pathRetrieve+launch, acmeToken, nil)
		text := c.ok(t, "alias", "show", launch, "--org", acme)
		for _, want := range []string{launch, "Launch", passcode, longSecret, streamKey} {
			if !strings.Contains(text, want) {
				t.Errorf("alias show does not show %q:\n%s", want, text)
			}
		}

		// An alias made over HTTP shows the same through the command.
		r := do(t, "POST", base+pathCreate, acmeToken, fmt.Sprintf(`{"type":"conference","name":"Board","expired_at":%d}`, inAnHour()))
		viaHTTP := wantAlias(t, r, http.StatusCreated)["id"].(string)
		sameAsAPI(t, "alias show --json of an alias made over HTTP", c.ok(t, "alias", "show", viaHTTP, "--org", acme, "--json"), "GET", pathRetrieve+viaHTTP, acmeToken, nil)

		for _, expires := range []struct{ flag, want string }{
			{"2030-01-02T03:04:05Z", "1893553445"},
			{"1893553445", "1893553445"},
			{"2030-01-02T04:04:05+01:00", "1893553445"},
		} {
			out := c.ok(t, "alias", "create", "--org", acme, "--type", "conference", "--expires", expires.flag, "--json")
			if !strings.Contains(out, `"expired_at":`+expires.want+",") {
				t.Errorf("--expires %s printed %s, want expired_at %s", expires.flag, out, expires.want)
			}
		}
		quiet := c.ok(t, "alias", "create", "--org", acme, "--type", "live", "--expires", "1d", "-q")
		if !aliasIDShape.MatchString(quiet) {
			t.Errorf("alias create -q printed %q, want an alias ID and nothing else", quiet)
		}
		text = c.ok(t, "alias", "create", "--org", acme, "--type", "live", "--passcode", "text-passcode", "--expires", "2h")
		if !strings.Contains(text, "created") || !strings.Contains(text, "text-passcode") {
			t.Errorf("alias create printed\n%s\nwant the alias with its passcode", text)
		}

		c.refuses(t, "--expires \"tomorrow\"", "alias", "create", "--org", acme, "--type", "live", "--expires", "tomorrow")
		c.refuses(t, "alias not found", "alias", "show", "nosuchalias0", "--org", acme)
		c.refuses(t, "alias not found", "alias", "show", foreign, "--org", acme)
		for what, id := range map[string]string{"an unknown alias": "nosuchalias0", "another organization's alias": foreign} {
			stdout, _ := c.fails(t, "alias", "show", id, "--org", acme, "--json")
			sameAsAPI(t, "alias show --json of "+what, stdout, "GET", pathRetrieve+id, acmeToken, nil)
		}
	})

	t.Run("validation is the API's", func(t *testing.T) {
		expires := inAnHour()
		for what, tc := range map[string]struct {
			flags  []string
			fields map[string]any
			says   string
		}{
			"a secret shorter than the config's minimum": {
				[]string{"--type", "live", "--jwt-secret", shortSecret},
				map[string]any{"type": "live", "jwt_secret": shortSecret}, "must be 40 to 512 bytes"},
			"a short passcode": {
				[]string{"--type", "live", "--passcode", "ab"},
				map[string]any{"type": "live", "passcode": "ab"}, `"passcode" must be 4 to 128 characters`},
			"an unknown type": {
				[]string{"--type", "radio"},
				map[string]any{"type": "radio"}, `"type" must be "live" or "conference"`},
			"a stream key in use": {
				[]string{"--type", "live", "--stream-key", streamKey},
				map[string]any{"type": "live", "stream_key": streamKey}, `"stream_key" is already used by another alias`},
			"an empty name": {
				[]string{"--type", "live", "--name", ""},
				map[string]any{"type": "live", "name": ""}, `"name" must be 1 to 200 characters`},
		} {
			args := append([]string{"alias", "create", "--org", acme, "--expires", fmt.Sprint(expires)}, tc.flags...)
			c.refuses(t, tc.says, args...)
			stdout, _ := c.fails(t, append(args, "--json")...)
			tc.fields["expired_at"] = expires
			body, _ := json.Marshal(tc.fields)
			sameAsAPI(t, "alias create --json with "+what, stdout, "POST", pathCreate, acmeToken, body)
		}
		stdout, _ := c.fails(t, "alias", "create", "--org", acme, "--name", "No type", "--json")
		sameAsAPI(t, "alias create --json without --type and --expires", stdout, "POST", pathCreate, acmeToken, []byte(`{"name":"No type"}`))
	})

	t.Run("update", func(t *testing.T) {
		stdout := c.ok(t, "alias", "update", launch, "--org", acme, "--name", "Launch (public)", "--clear", "passcode", "--json")
		sameAsAPI(t, "alias update --json", stdout, "GET", pathRetrieve+launch, acmeToken, nil)
		if !strings.Contains(stdout, `"name":"Launch (public)","passcode":null,`) {
			t.Errorf("alias update --json printed %s", stdout)
		}
		text := c.ok(t, "alias", "update", launch, "--org", acme, "--passcode", "new-passcode")
		if !strings.Contains(text, "updated") || !strings.Contains(text, "new-passcode") {
			t.Errorf("alias update printed\n%s", text)
		}
		testcaddy.PollUntil(t, 10*time.Second, "the server takes the passcode set by alias update", func() bool {
			return do(t, "GET", base+pathRetrieve+launch+"?passcode=new-passcode", "", "").status == http.StatusOK
		})

		for what, id := range map[string]string{"an unknown alias": "nosuchalias0", "another organization's alias": foreign} {
			c.refuses(t, "alias not found", "alias", "update", id, "--org", acme, "--name", "Mine")
			stdout, _ := c.fails(t, "alias", "update", id, "--org", acme, "--name", "Mine", "--json")
			sameAsAPI(t, "alias update --json of "+what, stdout, "POST", pathUpdate+id, acmeToken, []byte(`{"name":"Mine"}`))
		}
		c.refuses(t, "--name is given and cleared at once", "alias", "update", launch, "--org", acme, "--name", "x", "--clear", "name")
		c.refuses(t, `unknown field "colour"`, "alias", "update", launch, "--org", acme, "--clear", "colour")
		c.refuses(t, `"expired_at" must be`, "alias", "update", launch, "--org", acme, "--clear", "expires")
		c.refuses(t, "accepts 1 arg", "alias", "update", "--org", acme, "--name", "x")
		if name := wantAlias(t, do(t, "GET", base+pathRetrieve+foreign, globexToken, ""), http.StatusOK)["name"]; name != nil {
			t.Errorf("a refused update named another organization's alias %v", name)
		}
	})

	t.Run("list", func(t *testing.T) {
		var made []string
		for i, typ := range []string{"live", "conference", "live", "conference", "live"} {
			made = append(made, strings.TrimSpace(c.ok(t, "alias", "create", "--org", "Acme", "--type", typ, "--name", fmt.Sprint("Stream ", i), "--expires", "3h", "-q")))
		}
		page := func(args ...string) string {
			return c.ok(t, append([]string{"alias", "list", "--org", "Acme", "--json"}, args...)...)
		}
		firstPage := page("--limit", "2")
		sameAsAPI(t, "alias list --json --limit 2", firstPage, "GET", pathList+"?limit=2", caseAcmeToken, nil)
		var p struct {
			After   *string           `json:"after"`
			Entries []json.RawMessage `json:"entries"`
		}
		decodeLine(t, firstPage, &p)
		if p.After == nil {
			t.Fatalf("the first page of 2 of 5 has no cursor: %s", firstPage)
		}
		sameAsAPI(t, "alias list --json --after", page("--limit", "2", "--after", *p.After), "GET", pathList+"?limit=2&after="+url.QueryEscape(*p.After), caseAcmeToken, nil)
		sameAsAPI(t, "alias list --json --type", page("--type", "conference"), "GET", pathList+"?type=conference", caseAcmeToken, nil)
		sameAsAPI(t, "alias list --json", page(), "GET", pathList, caseAcmeToken, nil)

		pages := strings.SplitAfter(page("--limit", "2", "--all"), "\n")
		if len(pages) != 4 || pages[3] != "" {
			t.Fatalf("alias list --all --limit 2 of 5 aliases printed %d lines, want 3 pages:\n%s", len(pages)-1, strings.Join(pages, ""))
		}
		query := "?limit=2"
		for i, body := range pages[:3] {
			sameAsAPI(t, fmt.Sprintf("page %d of alias list --json --all", i+1), body, "GET", pathList+query, caseAcmeToken, nil)
			json.Unmarshal([]byte(body), &p)
			if p.After != nil {
				query = "?limit=2&after=" + url.QueryEscape(*p.After)
			}
		}

		text := c.ok(t, "alias", "list", "--org", "Acme", "--all", "--limit", "2")
		for _, id := range made {
			if !strings.Contains(text, id) {
				t.Errorf("alias list --all does not show %s:\n%s", id, text)
			}
		}
		if text := c.ok(t, "alias", "list", "--org", "Acme", "--limit", "2"); !strings.Contains(text, "--after ") || strings.Contains(text, made[2]) {
			t.Errorf("alias list --limit 2 printed\n%s\nwant the first two aliases and the cursor of the next page", text)
		}
		if text := c.ok(t, "alias", "list", "--org", globex); !strings.Contains(text, foreign) || strings.Contains(text, launch) || strings.Contains(text, "their-secret") {
			t.Errorf("alias list of globex printed\n%s\nwant its alias only, without secrets", text)
		}

		for _, bad := range []struct{ flag, value, query, says string }{
			{"--after", "bogus", "after=bogus", `"after" is not a cursor this API returned`},
			{"--limit", "0", "limit=0", `"limit" must be an integer from 1 to 500`},
			{"--limit", "501", "limit=501", `"limit" must be an integer from 1 to 500`},
			{"--type", "radio", "type=radio", `"type" must be "live" or "conference"`},
		} {
			c.refuses(t, bad.says, "alias", "list", "--org", "Acme", bad.flag, bad.value)
			stdout, _ := c.fails(t, "alias", "list", "--org", "Acme", bad.flag, bad.value, "--json")
			sameAsAPI(t, "alias list --json "+bad.flag+" "+bad.value, stdout, "GET", pathList+"?"+bad.query, caseAcmeToken, nil)
		}
		c.refuses(t, "invalid argument", "alias", "list", "--org", "Acme", "--limit", "ten")
		c.refuses(t, "none of the others can be", "alias", "list", "--org", "Acme", "--all", "--after", "x")
	})

	t.Run("delete", func(t *testing.T) {
		doomed := strings.TrimSpace(c.ok(t, "alias", "create", "--org", acme, "--type", "live", "--expires", "1h", "-q"))
		alsoDoomed := strings.TrimSpace(c.ok(t, "alias", "create", "--org", acme, "--type", "live", "--expires", "1h", "-q"))
		stdout := c.ok(t, "alias", "delete", doomed, "--org", acme, "--json")
		sameAsAPI(t, "alias delete --json", stdout, "DELETE", pathDelete+alsoDoomed, acmeToken, nil)
		c.refuses(t, "alias not found", "alias", "show", doomed, "--org", acme)
		for what, id := range map[string]string{"an unknown alias": "nosuchalias0", "another organization's alias": foreign, "a deleted alias": doomed} {
			c.refuses(t, "alias not found", "alias", "delete", id, "--org", acme)
			stdout, _ := c.fails(t, "alias", "delete", id, "--org", acme, "--json")
			sameAsAPI(t, "alias delete --json of "+what, stdout, "DELETE", pathDelete+id, acmeToken, nil)
		}
		wantAlias(t, do(t, "GET", base+pathRetrieve+foreign, globexToken, ""), http.StatusOK)
		third := strings.TrimSpace(c.ok(t, "alias", "create", "--org", acme, "--type", "live", "--expires", "1h", "-q"))
		if out := c.ok(t, "alias", "delete", third, "--org", acme); out != "Alias "+third+" deleted.\n" {
			t.Errorf("alias delete printed %q", out)
		}
	})

	t.Run("jwt", func(t *testing.T) {
		// Sign, then open the alias at the gateway with the token.
		gateway := func(token string) response {
			t.Helper()
			return do(t, "GET", base+"/live/"+launch+"/index.m3u8", "Bearer "+token, "")
		}
		for _, tc := range []struct {
			flags      []string
			role, user string
			lifetime   int64
		}{
			{[]string{"--host", "--user", "user456", "--ttl", "90m"}, "host", "user456", 5400},
			{[]string{"--user", "viewer-7"}, "viewer", "viewer-7", 3600},
			{[]string{"--ttl", "2h"}, "viewer", "", 7200},
		} {
			out := c.ok(t, append([]string{"jwt", "sign", "--alias", launch}, tc.flags...)...)
			token := strings.TrimSuffix(out, "\n")
			if strings.ContainsAny(token, " \n") {
				t.Fatalf("jwt sign printed %q, want one token on one line", out)
			}
			var claims map[string]any
			payload, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
			if err != nil || json.Unmarshal(payload, &claims) != nil {
				t.Fatalf("jwt sign printed %q, whose payload does not decode", token)
			}
			exp, _ := claims["exp"].(float64)
			iat, _ := claims["iat"].(float64)
			if claims["alias"] != launch || claims["host"] != (tc.role == "host") || int64(exp-iat) != tc.lifetime {
				t.Errorf("jwt sign %v made the claims %v", tc.flags, claims)
			}
			if user, has := claims["user_id"]; has != (tc.user != "") || has && user != tc.user {
				t.Errorf("jwt sign %v made the user_id %v", tc.flags, claims["user_id"])
			}
			r := gateway(token)
			if want := fmt.Sprintf("role=%s user=%s", tc.role, tc.user); r.status != http.StatusOK || string(r.raw) != want {
				t.Errorf("the gateway answered the token of jwt sign %v with %d %q, want 200 %q", tc.flags, r.status, r.raw, want)
			}
			check := c.ok(t, "jwt", "check", token, "--alias", launch, "--json")
			var got struct {
				Valid     bool    `json:"valid"`
				Role      string  `json:"role"`
				User      *string `json:"user_id"`
				ExpiresAt int64   `json:"expires_at"`
			}
			decodeLine(t, check, &got)
			if !got.Valid || got.Role != tc.role || got.ExpiresAt != int64(exp) || (got.User == nil) != (tc.user == "") || got.User != nil && *got.User != tc.user {
				t.Errorf("jwt check --json of the token of jwt sign %v printed %s", tc.flags, check)
			}
			if text := c.ok(t, "jwt", "check", token, "--alias", launch); !strings.HasPrefix(text, "valid: "+tc.role+" token") {
				t.Errorf("jwt check printed %q", text)
			}
			if stdout, stderr, err := c.run(token+"\n", "jwt", "check", "-", "--alias", launch); err != nil || !strings.HasPrefix(stdout, "valid: ") {
				t.Errorf("jwt check - with the token on stdin: %v\n%s%s", err, stdout, stderr)
			}
		}

		noSecret := strings.TrimSpace(c.ok(t, "alias", "create", "--org", acme, "--type", "live", "--passcode", "1234", "--expires", "1h", "-q"))
		c.refuses(t, "longer than the max_token_lifetime of 2h0m0s", "jwt", "sign", "--alias", launch, "--ttl", "3h")
		c.refuses(t, "alias "+noSecret+" has no jwt_secret", "jwt", "sign", "--alias", noSecret)
		c.refuses(t, `no alias "nosuchalias0"`, "jwt", "sign", "--alias", "nosuchalias0")
		c.refuses(t, `--ttl "soon"`, "jwt", "sign", "--alias", launch, "--ttl", "soon")
		c.refuses(t, `"alias" not set`, "jwt", "sign")
		c.refuses(t, "control characters", "jwt", "sign", "--alias", launch, "--user", "a\nb")

		// Tokens signed here, by hand, that the gateway refuses: jwt check
		// must say why.
		twin := strings.TrimSpace(c.ok(t, "alias", "create", "--org", acme, "--type", "live", "--jwt-secret", longSecret, "--expires", "1h", "-q"))
		now := time.Now().Unix()
		at := func(unix int64) string { return time.Unix(unix, 0).UTC().Format(time.RFC3339) }
		for _, tc := range []struct {
			what, header, claims, secret, alias, says string
		}{
			{"an expired token", hs256, fmt.Sprintf(`{"alias":%q,"iat":%d,"exp":%d}`, launch, now-7200, now-3600), longSecret, launch,
				"token_expired: the token expired at " + at(now-3600)},
			{"a token signed with another secret", hs256, fmt.Sprintf(`{"alias":%q,"exp":%d}`, launch, now+600), longSecret + "x", launch,
				"bad_signature: the signature does not match alias " + launch + "'s jwt_secret"},
			{"a token for another alias", hs256, fmt.Sprintf(`{"alias":%q,"exp":%d}`, twin, now+600), longSecret, launch,
				fmt.Sprintf("alias_mismatch: the token is for alias %q, not for %s", twin, launch)},
			{"a token that lives too long", hs256, fmt.Sprintf(`{"alias":%q,"iat":%d,"exp":%d}`, launch, now, now+3*3600), longSecret, launch,
				"lifetime_too_long: the token is valid until " + at(now+3*3600) + ", 3h0m0s from its iat, longer than the max_token_lifetime of 2h0m0s"},
			{"a token not valid yet", hs256, fmt.Sprintf(`{"alias":%q,"nbf":%d,"exp":%d}`, launch, now+3600, now+5400), longSecret, launch,
				"token_not_yet_valid: the token is not valid before " + at(now+3600)},
			{"a token without expiry", hs256, fmt.Sprintf(`{"alias":%q}`, launch), longSecret, launch,
				"no_expiry: the token has neither exp nor expires_in"},
			{"a token issued in the future", hs256, fmt.Sprintf(`{"alias":%q,"iat":%d,"exp":%d}`, launch, now+3600, now+5400), longSecret, launch,
				"issued_in_future: the token says it was issued at " + at(now+3600)},
			{"a lifetime without iat", hs256, fmt.Sprintf(`{"alias":%q,"expires_in":600}`, launch), longSecret, launch,
				"expires_in_needs_iat: expires_in below 1000000000 is a lifetime"},
			{"a claim of the wrong type", hs256, fmt.Sprintf(`{"alias":%q,"exp":"tomorrow"}`, launch), longSecret, launch,
				"bad_claims: a claim appears twice or has the wrong type"},
			{"a token of another algorithm", `{"alg":"HS512","typ":"JWT"}`, fmt.Sprintf(`{"alias":%q,"exp":%d}`, launch, now+600), longSecret, launch,
				`bad_algorithm: the token is signed with alg "HS512"`},
			{"a token for an alias without a secret", hs256, fmt.Sprintf(`{"alias":%q,"exp":%d}`, noSecret, now+600), longSecret, noSecret,
				"no_jwt_secret: alias " + noSecret + " has no jwt_secret"},
		} {
			token := handSigned(tc.header, tc.claims, tc.secret)
			c.refuses(t, tc.says, "jwt", "check", token, "--alias", tc.alias)
			stdout, _ := c.fails(t, "jwt", "check", token, "--alias", tc.alias, "--json")
			var got struct {
				Valid  bool   `json:"valid"`
				Reason string `json:"reason"`
				Detail string `json:"detail"`
			}
			decodeLine(t, stdout, &got)
			if name, sentence, _ := strings.Cut(tc.says, ": "); got.Valid || got.Reason != name || !strings.HasPrefix(got.Detail, sentence) {
				t.Errorf("jwt check --json of %s printed %s", tc.what, stdout)
			}
			if r := do(t, "GET", base+"/live/"+tc.alias+"/index.m3u8", "Bearer "+token, ""); r.status != http.StatusUnauthorized {
				t.Errorf("the gateway answered %s with %d, want 401 as jwt check says", tc.what, r.status)
			}
		}
		c.refuses(t, "token_malformed: the token is not a JWT", "jwt", "check", "not-a-token", "--alias", launch)

		// An alias that expires: the gateway refuses every token for it.
		brief := strings.TrimSpace(c.ok(t, "alias", "create", "--org", acme, "--type", "live", "--jwt-secret", longSecret, "--expires", "2s", "-q"))
		token := handSigned(hs256, fmt.Sprintf(`{"alias":%q,"exp":%d}`, brief, now+600), longSecret)
		testcaddy.PollUntil(t, 10*time.Second, "jwt check says the alias expired", func() bool {
			_, stderr, err := c.run("", "jwt", "check", token, "--alias", brief)
			return err != nil && strings.Contains(stderr, "alias_expired: alias "+brief+" expired at ")
		})
		c.refuses(t, "alias "+brief+" expired at ", "jwt", "sign", "--alias", brief)
		c.refuses(t, `no alias "nosuchalias0"`, "jwt", "check", "x", "--alias", "nosuchalias0")
		c.refuses(t, "accepts 1 arg", "jwt", "check", "--alias", launch)
	})

	t.Run("help", func(t *testing.T) {
		help := c.ok(t, "--help")
		if !strings.Contains(help, "--database") || !strings.Contains(help, "sqlite:PATH") {
			t.Errorf("caddy linkgate --help does not say that --database takes sqlite:PATH:\n%s", help)
		}
	})

	// The commands may name the database themselves; the rules still come
	// from ./Caddyfile.
	t.Run("database flag", func(t *testing.T) {
		if out := c.ok(t, "alias", "show", launch, "--org", acme, "--database", database, "--json"); !strings.Contains(out, launch) {
			t.Errorf("alias show with --database printed %s", out)
		}
		c.refuses(t, "must be 40 to 512 bytes", "alias", "create", "--org", acme, "--database", database, "--type", "live", "--jwt-secret", shortSecret, "--expires", "1h")
	})

	server.Stop(t)
	log := server.Log.String()
	for name, secret := range map[string]string{"passcode": passcode, "jwt secret": longSecret, "stream key": streamKey, "token": acmeToken} {
		if strings.Contains(log, secret) {
			t.Errorf("the server's log holds the %s", name)
		}
	}
}

// hs256 is the JOSE header of an HS256 JWT.
const hs256 = `{"alg":"HS256","typ":"JWT"}`

// handSigned makes a JWT of header and claims signed with secret, by
// hand: HMAC-SHA256 over the base64url segments, as RFC 7515 writes them.
func handSigned(header, claims, secret string) string {
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}
