package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// site is the node's config: the alias API and a /live/* route behind
// alias_auth, Caddy's admin API on a port of its own for the reloads.
type site struct {
	path      string // the Caddyfile
	port      int
	adminPort int
	upstream  string
	storage   string
}

func newSite(work, upstream string) (*site, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	adminPort, err := freePort()
	if err != nil {
		return nil, err
	}
	return &site{path: filepath.Join(work, "Caddyfile"), port: port, adminPort: adminPort,
		upstream: upstream, storage: filepath.Join(work, "storage")}, nil
}

func (s *site) base() string  { return fmt.Sprintf("http://127.0.0.1:%d", s.port) }
func (s *site) admin() string { return fmt.Sprintf("http://127.0.0.1:%d", s.adminPort) }

// caddyfile is config number i: configs differ only by what /config
// answers, so that every reload is a real one and keeps the caches.
func (s *site) caddyfile(i int) string {
	return fmt.Sprintf(`{
	admin 127.0.0.1:%d
	persist_config off
	auto_https off
	storage file_system %q
	log {
		level WARN
	}
	linkgate {
		database {env.LINKGATE_DATABASE}
	}
}

http://127.0.0.1:%d {
	bind 127.0.0.1
	alias_api
	handle /live/* {
		alias_auth live
		reverse_proxy %s
	}
	respond /config "%d" 200
	respond 404
}
`, s.adminPort, s.storage, s.port, s.upstream, i)
}

func (s *site) write(i int) error {
	return os.WriteFile(s.path, []byte(s.caddyfile(i)), 0o600)
}

// reload loads config number i through the admin API, as "caddy reload"
// does.
func (s *site) reload(i int) error {
	resp, err := http.Post(s.admin()+"/load", "text/caddyfile", strings.NewReader(s.caddyfile(i)))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: %s", resp.Status, body)
	}
	return nil
}

// orgToken creates an organization with the binary's CLI and returns its
// token.
func orgToken(bin, database string) (string, error) {
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, "linkgate", "org", "create", "soak", "--json", "--database", database)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("caddy linkgate org create: %v: %s", err, errOut.Bytes())
	}
	var org struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(out.Bytes(), &org); err != nil {
		return "", fmt.Errorf("caddy linkgate org create printed %s: %v", out.Bytes(), err)
	}
	return org.Token, nil
}

// createBody is the body of a create of a live alias with passcode.
func createBody(passcode string) string {
	return fmt.Sprintf(`{"type":"live","passcode":%q,"expired_at":%d}`, passcode, time.Now().Add(24*time.Hour).Unix())
}
