package xcaddy

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	// root is the repository root, where xcaddy.txt runs.
	root = "../.."
	// xcaddy is what stands for the "xcaddy" of xcaddy.txt: a pinned
	// release, fetched through the Go module proxy.
	xcaddy = "github.com/caddyserver/xcaddy/cmd/xcaddy@v0.4.5"
	// buildTimeout bounds the build; a first build downloads and compiles
	// all of Caddy.
	buildTimeout = 10 * time.Minute
)

// modules must all be in the built binary.
var modules = []string{"linkgate", "http.handlers.alias_api", "http.handlers.alias_auth", "http.handlers.alias_console",
	"http.handlers.linkgate_health", "admin.api.linkgate"}

// commandLine returns the first line of xcaddy.txt that is neither blank nor
// a # comment, split into arguments.
func commandLine(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "xcaddy.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// Splitting on blanks is all the parsing done here.
		if strings.ContainsAny(line, "\"'\\$`") {
			t.Fatalf("xcaddy.txt: %q quotes or escapes; keep it to plain words", line)
		}
		return strings.Fields(line)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	t.Fatal("xcaddy.txt holds no command")
	return nil
}

// TestCommandLine checks xcaddy.txt against go.mod without building: the
// Caddy version is the one linkgate is built and tested with, and the
// module is this one, from this checkout.
func TestCommandLine(t *testing.T) {
	args := commandLine(t)
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	module := regexp.MustCompile(`(?m)^module (\S+)`).FindSubmatch(gomod)
	caddy := regexp.MustCompile(`(?m)^\s*github\.com/caddyserver/caddy/v2 (v\S+)`).FindSubmatch(gomod)
	if module == nil || caddy == nil {
		t.Fatal("go.mod names no module or no github.com/caddyserver/caddy/v2 version")
	}
	if len(args) < 3 || args[0] != "xcaddy" || args[1] != "build" || args[2] != string(caddy[1]) {
		t.Errorf("xcaddy.txt runs %q, want xcaddy build %s (the Caddy of go.mod) ...", args, caddy[1])
	}
	if local := localModules(args); !slices.Equal(local, []string{string(module[1])}) {
		t.Errorf("xcaddy.txt builds --with local modules %q, want only this checkout's %s (--with %[2]s=.)", local, module[1])
	}
}

// withOutput returns the arguments after "xcaddy" with the --output file
// replaced by out, every other argument kept as it is.
func withOutput(t *testing.T, args []string, out string) []string {
	t.Helper()
	if len(args) < 2 || args[0] != "xcaddy" {
		t.Fatalf("xcaddy.txt runs %q, not xcaddy", args)
	}
	rest := append([]string(nil), args[1:]...)
	for i, a := range rest {
		switch {
		case a == "--output" && i+1 < len(rest):
			rest[i+1] = out
			return rest
		case strings.HasPrefix(a, "--output="):
			rest[i] = "--output=" + out
			return rest
		}
	}
	// Without --output, xcaddy would write ./caddy into the checkout.
	return append(rest, "--output", out)
}

// localModules returns the modules that a --with of args replaces by a
// local directory, as "--with github.com/linkgate/linkgate=." does.
func localModules(args []string) []string {
	var local []string
	for i, a := range args {
		if a != "--with" || i+1 == len(args) {
			continue
		}
		module, replacement, ok := strings.Cut(args[i+1], "=")
		if ok && (strings.HasPrefix(replacement, ".") || filepath.IsAbs(replacement)) {
			module, _, _ = strings.Cut(module, "@")
			local = append(local, module)
		}
	}
	return local
}

func TestXcaddyBuild(t *testing.T) {
	if os.Getenv("LINKGATE_XCADDY") != "1" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but LINKGATE_XCADDY is not: CI must build xcaddy.txt (.ci/run sets both)")
		}
		t.Skip("set LINKGATE_XCADDY=1 to run xcaddy.txt (a full Caddy build from the Go module proxy, minutes the first time); .ci/run sets it")
	}
	dir, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(buildTimeout)
	// Stop the build, not the whole test binary, if go test's own
	// -timeout comes first.
	if d, ok := t.Deadline(); ok && d.Add(-30*time.Second).Before(deadline) {
		deadline = d.Add(-30 * time.Second)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()

	bin := filepath.Join(t.TempDir(), "caddy")
	line := commandLine(t)
	args := append([]string{"run", xcaddy}, withOutput(t, line, bin)...)
	build := exec.CommandContext(ctx, "go", args...)
	build.Dir = dir
	build.WaitDelay = 10 * time.Second
	start := time.Now()
	out, err := build.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s in %s: %v (after %s)\n%s", strings.Join(args, " "), dir, err, time.Since(start).Round(time.Second), out)
	}
	t.Logf("built with go %s in %s", strings.Join(args, " "), time.Since(start).Round(time.Second))

	list := exec.CommandContext(ctx, bin, "list-modules")
	listed, err := list.Output()
	if err != nil {
		t.Fatalf("%s list-modules: %v\n%s", bin, err, listed)
	}
	have := map[string]bool{}
	for line := range strings.Lines(string(listed)) {
		have[strings.TrimSpace(line)] = true
	}
	for _, m := range modules {
		if !have[m] {
			t.Errorf("list-modules does not show %s:\n%s", m, listed)
		}
	}
}
