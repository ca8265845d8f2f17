package testcaddy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Process is a "caddy run" of a built binary, with a Caddyfile and a home
// of its own.
type Process struct {
	Name string
	// Dir holds its Caddyfile, and is its working, home and XDG directory,
	// so that it writes nothing of the developer's.
	Dir    string
	cmd    *exec.Cmd
	exited chan struct{}
	// Log is what it wrote to stdout and stderr.
	Log  Buffer
	once sync.Once
}

// Run writes caddyfile into a fresh directory and runs bin with it, with
// env added to the test's environment. Cleanup stops it, and logs the tail
// of its output if the test failed.
func Run(t testing.TB, bin, name, caddyfile string, env ...string) *Process {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(caddyfile), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &Process{Name: name, Dir: dir, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "run", "--config", path)
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), "HOME="+dir,
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "XDG_DATA_HOME="+filepath.Join(dir, "data"))
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.Log, &p.Log
	DieWithTest(p.cmd)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.Stop(t)
		// A binary built with -race (GOFLAGS=-race go test ...) reports
		// races on its output and carries on: they fail the test here.
		if log := p.Log.String(); strings.Contains(log, "WARNING: DATA RACE") || strings.Contains(log, "\npanic: ") {
			t.Errorf("%s reported a data race or a panic:\n%s", name, log)
		} else if t.Failed() {
			t.Logf("the last lines of %s's log:\n%s", name, p.Tail(40))
		}
	})
	return p
}

// Tail is the last n lines of the process's output.
func (p *Process) Tail(n int) string {
	lines := strings.SplitAfter(p.Log.String(), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "")
}

// Pid is the process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed once the process is gone.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// WaitReady polls ready until it reports true, failing the test if the
// process exits or 30 s pass first.
func (p *Process) WaitReady(t testing.TB, ready func() bool) {
	t.Helper()
	PollUntil(t, 30*time.Second, p.Name+" answers", func() bool {
		select {
		case <-p.exited:
			t.Fatalf("%s exited: %v\n%s", p.Name, p.cmd.ProcessState, p.Tail(40))
		default:
		}
		return ready()
	})
}

// Stop asks the process to shut down, kills it if it does not within
// 10 s, and waits until it is gone.
func (p *Process) Stop(t testing.TB) {
	p.once.Do(func() {
		p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.exited:
			return
		case <-time.After(10 * time.Second):
		}
		p.kill(t)
	})
}

// Kill ends the process with SIGKILL, as a crash would, and waits until it
// is gone.
func (p *Process) Kill(t testing.TB) {
	p.once.Do(func() { p.kill(t) })
}

func (p *Process) kill(t testing.TB) {
	p.cmd.Process.Kill()
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Errorf("%s (pid %d) still running 10s after SIGKILL", p.Name, p.cmd.Process.Pid)
	}
}
