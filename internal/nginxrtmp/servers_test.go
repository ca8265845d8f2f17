package nginxrtmp

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/linkgate/linkgate/internal/testcaddy"
)

// rtmpModule is where Debian's libnginx-mod-rtmp puts the module.
const rtmpModule = "/usr/lib/nginx/modules/ngx_rtmp_module.so"

// tools are the Debian programs the test runs.
type tools struct {
	nginx, ffmpeg string
}

// findTools finds nginx, its RTMP module and ffmpeg. Without them the test
// skips, unless CI is set: there a missing server must not pass as a
// skipped test.
func findTools(t *testing.T) tools {
	t.Helper()
	var tl tools
	var missing []string
	if tl.nginx = findNginx(); tl.nginx == "" {
		missing = append(missing, "nginx (Debian: nginx-light)")
	}
	if _, err := os.Stat(rtmpModule); err != nil {
		missing = append(missing, rtmpModule+" (Debian: libnginx-mod-rtmp)")
	}
	if p, err := exec.LookPath("ffmpeg"); err == nil {
		tl.ffmpeg = p
	} else {
		missing = append(missing, "ffmpeg")
	}
	if len(missing) > 0 {
		msg := "missing " + strings.Join(missing, ", ")
		if os.Getenv("CI") != "" {
			t.Fatalf("nginxrtmp: nginx-rtmp and ffmpeg are required when CI is set: %s", msg)
		}
		t.Skipf("nginxrtmp: skipping: %s", msg)
	}
	return tl
}

// findNginx returns nginx from PATH, or Debian's /usr/sbin/nginx, which a
// user's PATH may lack.
func findNginx() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if info, err := os.Stat("/usr/sbin/nginx"); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
		return "/usr/sbin/nginx"
	}
	return ""
}

// process is a child process of the test: linkgate, nginx or ffmpeg.
type process struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
	out    testcaddy.Buffer
	once   sync.Once
}

// start runs cmd, with its output in the process's buffer, until the test
// ends; when the test fails, the end of its output is logged.
func start(t *testing.T, name string, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{name: name, cmd: cmd, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.out, &p.out
	testcaddy.DieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			lines := strings.SplitAfter(p.out.String(), "\n")
			t.Logf("the last %d lines of %s's output:\n%s", min(len(lines), 40), name, strings.Join(lines[max(len(lines)-40, 0):], ""))
		}
	})
	return p
}

// running reports whether the process has not exited yet.
func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// waitExit waits until the process exits on its own, and fails the test
// if it is still running after limit.
func (p *process) waitExit(t *testing.T, limit time.Duration, what string) {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(limit):
		t.Fatalf("%s: %s still running after %v", what, p.name, limit)
	}
}

// stop interrupts the process, kills it if it does not end within 10 s,
// and waits until it is gone.
func (p *process) stop(t *testing.T) {
	p.once.Do(func() {
		if !p.running() {
			return
		}
		p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.exited:
			return
		case <-time.After(10 * time.Second):
		}
		p.cmd.Process.Kill()
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			t.Errorf("%s (pid %d) still running 10s after SIGKILL", p.name, p.cmd.Process.Pid)
		}
	})
}

// ports are the test's listeners, all on 127.0.0.1.
type ports struct {
	gateway   int // linkgate: the alias API and alias_auth in front of nginx's HLS
	hooks     int // linkgate: the hooks and metrics, for nginx alone
	rtmp      int // nginx: RTMP
	nginxHTTP int // nginx: the HLS files, for linkgate alone
}

func freePorts(t *testing.T) ports {
	return ports{testcaddy.FreePort(t), testcaddy.FreePort(t), testcaddy.FreePort(t), testcaddy.FreePort(t)}
}

// gateway is a "caddy run" of the built binary.
type gateway struct {
	*process
	base      string // the alias API and /live/*
	hooksBase string // /hooks/nginx and /metrics
}

// startGateway runs the binary bin with a Caddyfile of the embedded SQLite
// store database, as an operator in front of nginx-rtmp would write it:
// viewers reach nginx's HLS through alias_auth; the hook route listens on
// a site of its own, on loopback, where only nginx reaches it.
func startGateway(t *testing.T, bin, dir, database string, p ports) *gateway {
	t.Helper()
	text := fmt.Sprintf(`{
	%s
	linkgate {
		database %s
	}
}

http://127.0.0.1:%d {
	bind 127.0.0.1
	alias_api
	handle /live/* {
		alias_auth live
		reverse_proxy 127.0.0.1:%d
	}
}

http://127.0.0.1:%d {
	bind 127.0.0.1
	handle /hooks/nginx {
		alias_hooks nginx_rtmp
	}
	handle /metrics {
		metrics
	}
}
`, testcaddy.GlobalOptions(filepath.Join(dir, "storage")), database, p.gateway, p.nginxHTTP, p.hooks)
	file := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(file, caddyfile.Format([]byte(text)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", file)
	cmd.Dir = dir
	cmd.Env = ownHome(dir)
	g := &gateway{
		process:   start(t, "linkgate", cmd),
		base:      fmt.Sprintf("http://127.0.0.1:%d", p.gateway),
		hooksBase: fmt.Sprintf("http://127.0.0.1:%d", p.hooks),
	}
	testcaddy.PollUntil(t, 30*time.Second, "linkgate answers", func() bool {
		if !g.running() {
			t.Fatalf("linkgate exited: %v\n%s", cmd.ProcessState, g.out.String())
		}
		r, err := send(t, "GET", g.hooksBase+"/metrics", nil, "")
		return err == nil && r.status == 200
	})
	return g
}

// ownHome is the environment with HOME and the XDG directories in dir, so
// that linkgate writes nothing of the developer's.
func ownHome(dir string) []string {
	return append(os.Environ(), "HOME="+dir,
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "XDG_DATA_HOME="+filepath.Join(dir, "data"))
}

// createOrg creates an organization with the binary's CLI, as an operator
// does, and returns its token.
func createOrg(t *testing.T, bin, dir, database string) string {
	t.Helper()
	cmd := exec.Command(bin, "linkgate", "org", "create", "nginx-rtmp-test", "--json", "--database", database)
	cmd.Dir = dir
	cmd.Env = ownHome(dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("caddy linkgate org create: %v\n%s", err, stderr.String())
	}
	var org struct {
		OrgID string `json:"org_id"`
		Name  string `json:"name"`
		Token string `json:"token"`
	}
	if err := json.Unmarshal(out, &org); err != nil || org.Token == "" {
		t.Fatalf("caddy linkgate org create printed %q: %v", out, err)
	}
	return org.Token
}

// readmeConfig returns the nginx configuration of the README's nginx-rtmp
// paragraph: the first nginx code block after it.
func readmeConfig(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	_, after, ok := strings.Cut(readme, "**nginx-rtmp**")
	if !ok {
		t.Fatal("README.md has no **nginx-rtmp** paragraph")
	}
	_, block, ok := strings.Cut(after, "```nginx\n")
	if !ok {
		t.Fatal("README.md's nginx-rtmp paragraph has no nginx code block")
	}
	block, _, ok = strings.Cut(block, "```")
	if !ok {
		t.Fatal("README.md's nginx-rtmp code block does not end")
	}
	return block
}

// nginxConfig is the README's configuration with the test's addresses,
// directories and update period in place of the README's, and nginx's
// defaults that would write outside dir turned elsewhere. Each part it
// replaces must be in the README exactly as many times as written here, so
// that a change to the README's configuration fails the test until the
// test runs the new one.
func nginxConfig(t *testing.T, readme, dir, hlsDir string, p ports, updateEvery time.Duration) string {
	t.Helper()
	replacements := []struct {
		old, new string
		n        int
	}{
		{"listen 1935;", fmt.Sprintf("listen 127.0.0.1:%d;", p.rtmp), 1},
		{"rtmp://127.0.0.1:1935/live;", fmt.Sprintf("rtmp://127.0.0.1:%d/live;", p.rtmp), 1},
		{"http://linkgate.internal:8080/hooks/nginx;", fmt.Sprintf("http://127.0.0.1:%d/hooks/nginx;", p.hooks), 2},
		{"notify_update_timeout 30s;", fmt.Sprintf("notify_update_timeout %dms;", updateEvery.Milliseconds()), 1},
		{"/var/lib/nginx/hls", hlsDir, 2},
		{"listen 10.0.0.5:8088;", fmt.Sprintf("listen 127.0.0.1:%d;", p.nginxHTTP), 1},
		{"http {\n", "http {\n" + strings.Join([]string{
			"access_log off;",
			"client_body_temp_path " + filepath.Join(dir, "body_temp") + ";",
			"proxy_temp_path " + filepath.Join(dir, "proxy_temp") + ";",
			"fastcgi_temp_path " + filepath.Join(dir, "fastcgi_temp") + ";",
			"uwsgi_temp_path " + filepath.Join(dir, "uwsgi_temp") + ";",
			"scgi_temp_path " + filepath.Join(dir, "scgi_temp") + ";",
		}, "\n") + "\n", 1},
	}
	conf := readme
	for _, r := range replacements {
		if got := strings.Count(conf, r.old); got != r.n {
			t.Fatalf("README.md's nginx-rtmp configuration has %q %d times, the test expects it %d times:\n%s", r.old, got, r.n, readme)
		}
		conf = strings.ReplaceAll(conf, r.old, r.new)
	}
	return "load_module " + rtmpModule + ";\nevents {}\n" + conf
}

// startNginx runs nginx with conf in the foreground, as one process (no
// workers, so no user to switch to when the test runs as root), and waits
// until it listens.
func startNginx(t *testing.T, nginx, dir, conf string, p ports) *process {
	t.Helper()
	file := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginx, "-p", dir, "-c", file,
		"-g", fmt.Sprintf("daemon off; master_process off; error_log stderr info; pid %s;", filepath.Join(dir, "nginx.pid")))
	n := start(t, "nginx", cmd)
	testcaddy.PollUntil(t, 10*time.Second, "nginx listens", func() bool {
		if !n.running() {
			t.Fatalf("nginx exited: %v\n%s\nwith this configuration:\n%s", cmd.ProcessState, n.out.String(), conf)
		}
		for _, port := range []int{p.rtmp, p.nginxHTTP} {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
			if err != nil {
				return false
			}
			c.Close()
		}
		return true
	})
	return n
}
