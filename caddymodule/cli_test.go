package caddymodule_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/internal/testcaddy"
	"github.com/linkgate/linkgate/store/pgstore"
)

// TestCLIAndServerBinary runs what an operator runs: the caddy binary built
// from cmd/caddy, its "caddy linkgate" commands on a brand-new database, in
// each of the three ways they find the database, and then "caddy run"
// serving the API to the tokens those commands printed.
func TestCLIAndServerBinary(t *testing.T) {
	dsn := pgtest.DB(t)
	bin := testcaddy.BuildCaddy(t)
	workDir := t.TempDir()
	// HOME and XDG dirs of the binary, so that it writes nothing of the
	// developer's.
	home := t.TempDir()
	env := append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_DATA_HOME="+filepath.Join(home, "data"))
	linkgate := func(t *testing.T, dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"linkgate"}, args...)...)
		cmd.Dir, cmd.Env = dir, env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("caddy linkgate %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, &stdout, &stderr)
		}
		return stdout.String()
	}

	created := orgCreated(t, linkgate(t, workDir, "org", "create", "demo", "--json", "--database", dsn))
	if !strings.HasPrefix(created.OrgID, "org_") || created.Name != "demo" {
		t.Errorf("org create printed org_id %q, name %q; want org_..., demo", created.OrgID, created.Name)
	}
	orgID, token := created.OrgID, created.Token

	var second createdToken
	decodeLine(t, linkgate(t, workDir, "token", "create", orgID, "--database", dsn, "--json"), &second)
	if second.OrgID != orgID || !strings.HasPrefix(second.TokenID, "tok_") {
		t.Errorf("token create printed org_id %q, token_id %q; want %s, tok_...", second.OrgID, second.TokenID, orgID)
	}
	wantToken(t, second.Token)
	if second.Token == token {
		t.Error("token create printed the organization's first token again")
	}

	list := func() map[string]alias.TokenInfo {
		var tokens []alias.TokenInfo
		decodeLine(t, linkgate(t, workDir, "token", "list", orgID, "--database", dsn, "--json"), &tokens)
		byID := map[string]alias.TokenInfo{}
		for _, tok := range tokens {
			if tok.OrgID != orgID {
				t.Errorf("token list shows token %s of %s, want only %s's", tok.ID, tok.OrgID, orgID)
			}
			byID[tok.ID] = tok
		}
		return byID
	}
	tokens := list()
	if len(tokens) != 2 {
		t.Fatalf("token list shows %d tokens, want 2: %v", len(tokens), tokens)
	}
	for id, tok := range tokens {
		if tok.RevokedAt != nil {
			t.Errorf("token %s is revoked before anyone revoked it", id)
		}
	}

	linkgate(t, workDir, "token", "revoke", second.TokenID, "--database", dsn)
	tokens = list()
	for id, tok := range tokens {
		if revoked := tok.RevokedAt != nil; revoked != (id == second.TokenID) {
			t.Errorf("after revoking %s, token %s has revoked_at %v", second.TokenID, id, tok.RevokedAt)
		}
	}
	if len(tokens) != 2 {
		t.Errorf("after a revoke, token list shows %d tokens, want 2 (revoked ones included)", len(tokens))
	}

	for range 2 {
		if out := linkgate(t, workDir, "migrate", "--database", dsn); !strings.Contains(out, "up to date") {
			t.Errorf("migrate printed %q", out)
		}
	}

	t.Run("failures exit non-zero", func(t *testing.T) {
		const password = "s3cret-pw"
		unreachable := fmt.Sprintf("postgres://linkgate:%s@127.0.0.1:%d/linkgate?sslmode=disable&connect_timeout=5", password, testcaddy.FreePort(t))
		for _, args := range [][]string{
			{"token", "revoke", second.TokenID, "--database", dsn},
			{"token", "revoke", "tok_nosuchtoken00000", "--database", dsn},
			{"token", "create", "org_nosuchorg0000000", "--database", dsn},
			{"org", "create", "x", "--database", "mysql://localhost/linkgate"},
			{"org", "create", "x", "--database", unreachable},
		} {
			cmd := exec.Command(bin, append([]string{"linkgate"}, args...)...)
			cmd.Dir, cmd.Env = t.TempDir(), env
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Errorf("caddy linkgate %s: %v, want a non-zero exit\n%s", strings.Join(args, " "), err, out)
			}
			if strings.Contains(string(out), password) {
				t.Errorf("caddy linkgate %s printed the database password:\n%s", strings.Join(args, " "), out)
			}
		}
	})

	// Without a config, the commands use the embedded database a Caddyfile
	// without a database option would: under Caddy's data directory.
	cmd := exec.Command(bin, "linkgate", "migrate")
	cmd.Dir, cmd.Env = t.TempDir(), env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("migrate with no config: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(home, "data", "caddy", "linkgate", "linkgate.db")); err != nil {
		t.Errorf("migrate with no config made no database under Caddy's data directory: %v", err)
	}

	// The --config and ./Caddyfile forms read the database from the same
	// Caddyfile that "caddy run" serves below.
	text, base := site{database: dsn, global: "debug"}.caddyfile(t)
	caddyfile := filepath.Join(workDir, "Caddyfile")
	if err := os.WriteFile(caddyfile, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	viaConfig := orgCreated(t, linkgate(t, t.TempDir(), "org", "create", "via-config", "--json", "--config", caddyfile)).Token
	viaCwd := orgCreated(t, linkgate(t, workDir, "org", "create", "via-cwd", "--json")).Token
	store, err := pgstore.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for name, tok := range map[string]string{"--config": viaConfig, "./Caddyfile": viaCwd} {
		hash, _ := alias.ParseOrgToken(tok)
		if _, err := store.OrgByToken(t.Context(), hash); err != nil {
			t.Errorf("the organization created with %s is not in the database: %v", name, err)
		}
	}

	server := startServer(t, bin, workDir, env, base)

	const serverPasscode = "server-passcode"
	r := do(t, http.MethodPost, base+pathCreate, token, fmt.Sprintf(`{"type":"live","passcode":%q,"expired_at":%d}`, serverPasscode, inAnHour()))
	id := wantAlias(t, r, http.StatusCreated)["id"].(string)
	wantAlias(t, do(t, http.MethodGet, base+pathRetrieve+id, token, ""), http.StatusOK)
	wantAlias(t, do(t, http.MethodGet, base+pathRetrieve+id+"?passcode="+serverPasscode, "", ""), http.StatusOK)
	wantError(t, do(t, http.MethodGet, base+pathList, second.Token, ""), http.StatusUnauthorized, "unauthorized")
	for _, tok := range []string{viaConfig, viaCwd} {
		wantJSON(t, do(t, http.MethodGet, base+pathList, tok, ""), http.StatusOK)
	}

	// Revoking stops a token on a server that is running, within the
	// second a change takes to reach a node: the server learns of it from
	// the change notice, which may come just after the command returns.
	var third createdToken
	decodeLine(t, linkgate(t, workDir, "token", "create", orgID, "--json", "--database", dsn), &third)
	wantJSON(t, do(t, http.MethodGet, base+pathList, third.Token, ""), http.StatusOK)
	linkgate(t, workDir, "token", "revoke", third.TokenID, "--database", dsn)
	testcaddy.PollUntil(t, time.Second, "the revoked token is refused", func() bool {
		return do(t, http.MethodGet, base+pathList, third.Token, "").status == http.StatusUnauthorized
	})
	wantError(t, do(t, http.MethodGet, base+pathList, third.Token, ""), http.StatusUnauthorized, "unauthorized")

	log := server.stop(t)
	for name, secret := range map[string]string{
		"organization token": token, "revoked token": second.Token, "third token": third.Token,
		"alias passcode": serverPasscode, "DSN": dsn,
	} {
		if strings.Contains(log, secret) {
			t.Errorf("the server's log contains the %s", name)
		}
	}
	if !strings.Contains(log, `"alias created"`) {
		t.Errorf("the server's log lacks the alias creation: is it the right log?\n%s", log)
	}
}

// server is a "caddy run" process.
type server struct {
	cmd    *exec.Cmd
	exited chan struct{}
	log    testcaddy.Buffer
	once   sync.Once
}

// startServer runs "caddy run" in dir, whose Caddyfile serves baseURL, and
// returns once the server answers. Cleanup kills it, if the test has not.
func startServer(t *testing.T, bin, dir string, env []string, baseURL string) *server {
	t.Helper()
	s := &server{cmd: exec.Command(bin, "run", "--config", filepath.Join(dir, "Caddyfile")), exited: make(chan struct{})}
	s.cmd.Dir, s.cmd.Env = dir, env
	s.cmd.Stdout, s.cmd.Stderr = &s.log, &s.log
	testcaddy.DieWithTest(s.cmd)
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() { s.stop(t) })

	testcaddy.PollUntil(t, 30*time.Second, "caddy run answers", func() bool {
		select {
		case <-s.exited:
			t.Fatalf("caddy run exited early: %v\n%s", s.cmd.ProcessState, s.log.String())
		default:
		}
		resp, err := client.Get(baseURL + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == fallthroughStatus
	})
	return s
}

// stop kills the server, waits until it is gone, and returns its output.
func (s *server) stop(t *testing.T) string {
	t.Helper()
	s.once.Do(func() {
		s.cmd.Process.Kill()
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			t.Errorf("caddy run (pid %d) still running 10s after SIGKILL", s.cmd.Process.Pid)
		}
	})
	return s.log.String()
}

// decodeLine decodes out, which must be exactly one line of JSON, into v.
func decodeLine(t *testing.T, out string, v any) {
	t.Helper()
	line, rest, _ := strings.Cut(out, "\n")
	if rest != "" {
		t.Fatalf("printed more than one line of JSON:\n%s", out)
	}
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("printed %q: %v", out, err)
	}
}

// createdOrg is what "org create --json" prints.
type createdOrg struct {
	OrgID string `json:"org_id"`
	Name  string `json:"name"`
	Token string `json:"token"`
}

// createdToken is what "token create --json" prints.
type createdToken struct {
	TokenID string `json:"token_id"`
	OrgID   string `json:"org_id"`
	Token   string `json:"token"`
}

// orgCreated reads what "org create --json" printed.
func orgCreated(t *testing.T, out string) createdOrg {
	t.Helper()
	var created createdOrg
	decodeLine(t, out, &created)
	wantToken(t, created.Token)
	return created
}

// wantToken fails the test unless tok is a well-formed organization token.
func wantToken(t *testing.T, tok string) {
	t.Helper()
	if _, ok := alias.ParseOrgToken(tok); !ok || !strings.HasPrefix(tok, alias.OrgTokenPrefix) {
		t.Errorf("printed token %q is not an lgo_ token with a valid checksum", tok)
	}
}
