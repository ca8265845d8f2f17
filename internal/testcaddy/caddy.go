package testcaddy

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// FreePort returns a port nothing listens on at the moment.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// GlobalOptions are the global options every test Caddyfile starts with,
// one a line, with Caddy's storage in the directory storage. Admin,
// autosave, automatic HTTPS and certificate storage cleaning are off, so
// that a test binds nothing but its site, writes nothing outside its temp
// dir, and starts no background work that outlives its config.
func GlobalOptions(storage string) string {
	return fmt.Sprintf(`admin off
persist_config off
auto_https off
storage file_system %q
storage_clean_interval off`, storage)
}

// Adapt formats the Caddyfile text, so that the blank lines left by empty
// parts of a template draw no warning, and turns it into the JSON config
// Caddy runs. Warnings are logged.
func Adapt(t testing.TB, text string) []byte {
	t.Helper()
	cfg, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(caddyfile.Format([]byte(text)), nil)
	if err != nil {
		t.Fatalf("adapting the Caddyfile: %v\n%s", err, text)
	}
	for _, w := range warnings {
		t.Logf("Caddyfile warning: %s", w)
	}
	return cfg
}

// Load adapts the Caddyfile text and runs it in this process, replacing
// the running config, until the test ends; it returns the adapted JSON.
func Load(t testing.TB, text string) []byte {
	t.Helper()
	cfg := Adapt(t, text)
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatalf("loading the config: %v", err)
	}
	t.Cleanup(func() {
		if err := caddy.Stop(); err != nil {
			t.Errorf("stopping Caddy: %v", err)
		}
	})
	return cfg
}

// BuildCaddy builds cmd/caddy, as an operator's xcaddy build would, into
// the test's temp dir and returns the binary's path. Without the go
// command the test is skipped, or fails when CI is set.
func BuildCaddy(t testing.TB) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("building the caddy binary needs the go command on PATH, and CI is set")
		}
		t.Skip("building the caddy binary needs the go command on PATH")
	}
	gomod, err := exec.Command(goTool, "env", "GOMOD").Output()
	if err != nil || len(bytes.TrimSpace(gomod)) == 0 {
		t.Fatalf("go env GOMOD: %v %s", err, gomod)
	}
	bin := filepath.Join(t.TempDir(), "caddy")
	cmd := exec.Command(goTool, "build", "-o", bin, "./cmd/caddy")
	cmd.Dir = filepath.Dir(string(bytes.TrimSpace(gomod)))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/caddy: %v\n%s", err, out)
	}
	return bin
}
