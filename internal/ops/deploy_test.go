package ops

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/linkgate/linkgate/caddymodule"
)

// root is the repository root.
const root = "../.."

func readRoot(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// caddyVersion is the Caddy of go.mod, without its v.
func caddyVersion(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*github\.com/caddyserver/caddy/v2 v(\S+)`).FindSubmatch(readRoot(t, "go.mod"))
	if m == nil {
		t.Fatal("go.mod names no github.com/caddyserver/caddy/v2 version")
	}
	return string(m[1])
}

// TestSystemdUnit checks dist/linkgate.service with systemd-analyze
// verify, with its /usr/bin/caddy standing for an executable that exists
// here. It runs where systemd-analyze is installed and is skipped
// elsewhere, with CI set too: CI machines need not carry systemd for it.
func TestSystemdUnit(t *testing.T) {
	unit := readRoot(t, "dist/linkgate.service")
	for _, line := range []string{
		"User=caddy",
		"EnvironmentFile=-/etc/caddy/linkgate.env",
		"ExecStart=/usr/bin/caddy run --config /etc/caddy/Caddyfile",
		"ExecReload=/usr/bin/caddy reload --config /etc/caddy/Caddyfile --force",
		"AmbientCapabilities=CAP_NET_BIND_SERVICE",
	} {
		if !bytes.Contains(unit, []byte("\n"+line+"\n")) {
			t.Errorf("dist/linkgate.service lacks the line %s", line)
		}
	}
	// caddy run --environ prints every environment variable, the
	// database URL from the EnvironmentFile with its password too.
	for line := range strings.Lines(string(unit)) {
		if strings.HasPrefix(line, "Exec") && strings.Contains(line, "--environ") {
			t.Errorf("dist/linkgate.service runs %q: --environ would print the database password into the journal", strings.TrimSpace(line))
		}
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed; the unit is checked where it is")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "linkgate.service")
	if err := os.WriteFile(path, bytes.ReplaceAll(unit, []byte("/usr/bin/caddy "), []byte(self+" ")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestDockerfile checks the Dockerfile against go.mod and xcaddy.txt
// without building it (CI does not build the image): Caddy's images of
// the Caddy linkgate is built with, and xcaddy.txt's module, from /src.
func TestDockerfile(t *testing.T) {
	dockerfile := string(readRoot(t, "Dockerfile"))
	version := caddyVersion(t)
	from := regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllStringSubmatch(dockerfile, -1)
	if len(from) != 2 || from[0][1] != "caddy:"+version+"-builder" || from[1][1] != "caddy:"+version {
		t.Errorf("the Dockerfile builds FROM %q, want caddy:%s-builder then caddy:%[2]s", from, version)
	}
	var with string
	for _, field := range strings.Fields(string(readRoot(t, "xcaddy.txt"))) {
		if strings.HasPrefix(field, "github.com/linkgate/linkgate") {
			with = strings.TrimSuffix(field, "=.") + "=/src"
		}
	}
	if with == "" || !strings.Contains(dockerfile, "RUN xcaddy build v"+version+" ") || !strings.Contains(dockerfile, " --with "+with+"\n") {
		t.Errorf("the Dockerfile does not run xcaddy build v%s ... --with %s", version, with)
	}
	if !strings.Contains(dockerfile, "COPY --from=builder /usr/bin/caddy /usr/bin/caddy\n") {
		t.Error("the Dockerfile does not copy the built binary into Caddy's image")
	}
}

// TestJSONConfigExample: docs/caddy.json is what "caddy adapt" makes of
// the root Caddyfile with no port variable set, and a config Caddy
// accepts.
func TestJSONConfigExample(t *testing.T) {
	for _, v := range []string{"LINKGATE_HTTP_PORT", "LINKGATE_DEMO_PORT", "LINKGATE_ADMIN_PORT"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	adapted, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(readRoot(t, "Caddyfile"), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatal(err)
	}
	example := readRoot(t, "docs/caddy.json")
	var want, got any
	if err := json.Unmarshal(adapted, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(example, &got); err != nil {
		t.Fatalf("docs/caddy.json: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("docs/caddy.json is not the adapted root Caddyfile; rewrite it with\n" +
			"  env -u LINKGATE_HTTP_PORT -u LINKGATE_DEMO_PORT -u LINKGATE_ADMIN_PORT go run ./cmd/caddy adapt --config Caddyfile --pretty > docs/caddy.json")
	}
	var cfg caddy.Config
	if err := json.Unmarshal(example, &cfg); err != nil {
		t.Fatal(err)
	}
	if err := caddy.Validate(&cfg); err != nil {
		t.Errorf("docs/caddy.json does not validate: %v", err)
	}
}
