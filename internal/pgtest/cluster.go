package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// unavailableError marks the "there is no PostgreSQL here" outcomes, which
// make tests skip rather than fail.
type unavailableError string

func (e unavailableError) Error() string { return string(e) }

const (
	noBinaries = "no PostgreSQL binaries (initdb) on PATH or in /usr/lib/postgresql/*/bin"
	// tempPattern must stay unique to pgtest: removeStale deletes old
	// directories matching it.
	tempPattern = "linkgate-pgtest-*"
	lockName    = "owner.lock"

	readyTimeout = 30 * time.Second
	stopTimeout  = 30 * time.Second
	startTries   = 3
)

// cluster is a throw-away PostgreSQL cluster owned by this test binary.
type cluster struct {
	dir      string // everything lives below it, so teardown is one RemoveAll
	dataDir  string
	sockDir  string
	logPath  string
	bin      string // the directory of initdb, pg_basebackup and postgres
	postgres string
	port     int
	// settings are more "name=value" server settings, after (and so over)
	// pgtest's own.
	settings []string
	cred     *syscall.Credential // non-nil when we are root and must drop to "postgres"
	lock     *os.File            // flock'ed for our lifetime; see removeStale

	mu     sync.Mutex // serialises stop/start from concurrent tests
	server *proc      // the running postgres; nil while stopped
}

// startCluster creates a cluster with initdb and starts it, with settings
// over pgtest's own.
func startCluster(settings ...string) (*cluster, error) {
	c, err := newCluster(settings)
	if err != nil {
		return nil, err
	}
	// --locale=C keeps collation and messages identical on every machine
	// whatever its LANG, and works without any locales installed.
	if err := c.run("initdb", "-D", c.dataDir, "--auth=trust", "-U", "postgres",
		"--encoding=UTF8", "--locale=C", "--no-sync"); err != nil {
		c.destroy()
		return nil, err
	}
	if err := c.startOnFreePort(); err != nil {
		c.destroy()
		return nil, err
	}
	return c, nil
}

// newCluster lays out the temp directory of a cluster still to be created.
func newCluster(settings []string) (*cluster, error) {
	initdb, postgres, err := findBinaries()
	if err != nil {
		return nil, err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root.
		if cred, err = postgresCredential(); err != nil {
			return nil, err
		}
	}
	// The other programs of the same version are next to initdb proper,
	// not next to a link to it on PATH.
	if real, err := filepath.EvalSymlinks(initdb); err == nil {
		initdb = real
	}
	removeStale()

	dir, err := os.MkdirTemp("", tempPattern)
	if err != nil {
		return nil, err
	}
	c := &cluster{
		dir:      dir,
		dataDir:  filepath.Join(dir, "data"),
		sockDir:  filepath.Join(dir, "sock"),
		logPath:  filepath.Join(dir, "postgres.log"),
		bin:      filepath.Dir(initdb),
		postgres: postgres,
		settings: settings,
		cred:     cred,
	}
	if err := c.lockDir(); err != nil {
		c.destroy()
		return nil, err
	}
	return c, nil
}

// lockDir takes the directory's lock and hands the directory to the user
// postgres runs as.
func (c *cluster) lockDir() error {
	var err error
	if c.lock, err = os.Create(filepath.Join(c.dir, lockName)); err != nil {
		return err
	}
	if err := syscall.Flock(int(c.lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("lock %s: %w", c.lock.Name(), err)
	}
	if err := os.Mkdir(c.sockDir, 0o700); err != nil {
		return err
	}
	if c.cred == nil {
		return nil
	}
	return filepath.WalkDir(c.dir, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(c.cred.Uid), int(c.cred.Gid))
	})
}

// run runs one of the PostgreSQL programs next to initdb, as the user
// postgres runs as, to its end.
func (c *cluster) run(program string, args ...string) error {
	path := filepath.Join(c.bin, program)
	var out bytes.Buffer
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	c.prepare(cmd)
	p, err := startTied(cmd)
	if err == nil {
		<-p.exited
		err = p.err
	}
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", path, err, tail(out.Bytes()))
	}
	return nil
}

// startOnFreePort starts the cluster on a port nothing listens on. It is
// retried because the free port we picked may be grabbed by a parallel test
// binary before postgres binds it.
func (c *cluster) startOnFreePort() error {
	var err error
	for try := 1; ; try++ {
		if c.port, err = freePort(); err != nil {
			return err
		}
		if err = c.start(); err == nil || !errors.Is(err, errPortTaken) || try == startTries {
			return err
		}
	}
}

// errPortTaken means another process owns the port, so a new port may help.
var errPortTaken = errors.New("port already in use")

// start launches postgres on c.port and waits until it serves connections.
func (c *cluster) start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.server != nil {
		return nil
	}
	logf, err := os.OpenFile(c.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	// Errors quote only this run's part of the log, which is appended to
	// across StopServer/StartServer.
	logStart, _ := logf.Seek(0, io.SeekEnd)
	args := []string{"-D", c.dataDir, "-p", strconv.Itoa(c.port),
		"-c", "listen_addresses=127.0.0.1", "-k", c.sockDir,
		// Durability is pointless for throw-away data and costs the most time.
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		// Test packages run many parallel tests, each with its own pool.
		"-c", "max_connections=200"}
	// A setting given twice takes its last value.
	for _, s := range c.settings {
		args = append(args, "-c", s)
	}
	cmd := exec.Command(c.postgres, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	c.prepare(cmd)
	p, err := startTied(cmd)
	logf.Close() // postgres has its own copy
	if err != nil {
		return fmt.Errorf("start %s: %w", c.postgres, err)
	}
	if err := c.waitReady(p); err != nil {
		p.kill()
		log := c.logSince(logStart)
		bindFailed := bytes.Contains(log, []byte("could not bind")) || bytes.Contains(log, []byte("could not create any TCP/IP sockets"))
		if bindFailed && !errors.Is(err, errPortTaken) {
			err = fmt.Errorf("%w: %w", errPortTaken, err)
		}
		return fmt.Errorf("postgres on port %d: %w\nserver log:\n%s", c.port, err, tail(log))
	}
	c.server = p
	return nil
}

// waitReady polls over TCP, the way tests will connect, and checks that the
// server answering is ours: if a parallel test binary owns the port, our
// postgres dies on bind while theirs would happily answer our probe.
func (c *cluster) waitReady(p *proc) error {
	deadline := time.Now().Add(readyTimeout)
	var lastErr error
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("postgres exited during startup: %v", p.err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not accepting connections after %v: %v", readyTimeout, lastErr)
		}
		lastErr = c.probe()
		if lastErr == nil {
			return nil
		}
		if errors.Is(lastErr, errPortTaken) {
			return lastErr
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *cluster) probe() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.url("postgres").String())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var dataDir string
	if err := conn.QueryRow(ctx, "SHOW data_directory").Scan(&dataDir); err != nil {
		return err
	}
	if filepath.Clean(dataDir) != filepath.Clean(c.dataDir) {
		return fmt.Errorf("%w: port %d is served by the cluster in %s", errPortTaken, c.port, dataDir)
	}
	return nil
}

// stop shuts postgres down with SIGINT ("fast" shutdown: it disconnects
// clients instead of waiting for them, as an outage would).
func (c *cluster) stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.server
	if p == nil {
		return nil
	}
	c.server = nil
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		return err
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(stopTimeout):
		p.kill()
		return fmt.Errorf("postgres did not shut down within %v; killed it", stopTimeout)
	}
}

// crash stops postgres the way a power cut would: an immediate shutdown,
// without a checkpoint, clients cut off in the middle of what they do.
func (c *cluster) crash() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.server != nil {
		c.server.kill()
		c.server = nil
	}
}

// destroy stops the server and deletes everything it wrote.
func (c *cluster) destroy() error {
	err := c.stop()
	// Unlocking only after the removal keeps removeStale in other test
	// binaries away from a directory we are still deleting.
	err = errors.Join(err, os.RemoveAll(c.dir))
	if c.lock != nil {
		c.lock.Close()
	}
	return err
}

func (c *cluster) url(db string) *url.URL {
	return &url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
}

func (c *cluster) prepare(cmd *exec.Cmd) {
	// The test's working directory may be unreadable for the postgres user.
	cmd.Dir = c.dir
	// A fixed locale keeps server messages in English, which start() greps.
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	setPdeathsig(cmd.SysProcAttr)
}

func (c *cluster) logSince(offset int64) []byte {
	f, err := os.Open(c.logPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	b, _ := io.ReadAll(io.NewSectionReader(f, offset, 1<<30))
	return b
}

// proc is a child process started by startTied.
type proc struct {
	cmd *exec.Cmd
	// exited is closed once the child has been reaped; a channel that is
	// closed rather than sent on lets startup, stop and kill all wait on it.
	exited chan struct{}
	err    error // the child's exit status, valid once exited is closed
}

// startTied starts cmd from a goroutine locked to its OS thread that lives
// until the process exits. Pdeathsig fires when the thread that forked the
// child exits, not the process, so without the lock the Go scheduler could
// retire that thread and kill postgres in the middle of the tests; with it,
// postgres still dies when the test binary does (panic, go test -timeout),
// instead of outliving it and holding on to a port and a temp directory.
func startTied(cmd *exec.Cmd) (*proc, error) {
	p := &proc{cmd: cmd, exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: Go then discards the thread when this goroutine
		// returns, which is harmless because the child is gone by then.
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.exited)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// kill stops a postgres that is not supposed to keep running. SIGQUIT is an
// immediate shutdown that still takes the backends and shared memory down
// with it, unlike SIGKILL, which is the last resort.
func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// freePort asks the kernel for an unused port. Another process may take it
// before postgres binds it; start detects that and startCluster retries.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// findBinaries prefers PATH so developers can pick a version, and falls back
// to Debian's layout, where the server binaries are never on PATH.
func findBinaries() (initdb, postgres string, err error) {
	if initdb, err := exec.LookPath("initdb"); err == nil {
		// A cluster must be run by the major version that created it, so
		// the postgres next to initdb beats whatever else is on PATH.
		if postgres := filepath.Join(filepath.Dir(initdb), "postgres"); isExecutable(postgres) {
			return initdb, postgres, nil
		}
		if postgres, err := exec.LookPath("postgres"); err == nil {
			return initdb, postgres, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		return -compareVersions(filepath.Base(filepath.Dir(a)), filepath.Base(filepath.Dir(b)))
	})
	for _, dir := range dirs {
		initdb, postgres := filepath.Join(dir, "initdb"), filepath.Join(dir, "postgres")
		if isExecutable(initdb) && isExecutable(postgres) {
			return initdb, postgres, nil
		}
	}
	return "", "", unavailableError(noBinaries)
}

// compareVersions orders "9.6" before "10" before "15", which a string
// comparison gets wrong.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, _ := strconv.Atoi(as[i])
		y, _ := strconv.Atoi(bs[i])
		if x != y {
			return x - y
		}
	}
	return len(as) - len(bs)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func postgresCredential() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, unavailableError(`running as root, and there is no "postgres" OS user to run PostgreSQL as (initdb and postgres refuse to run as root)`)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("OS user postgres: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// removeStale deletes the temp directories of test binaries that died without
// cleaning up (a panicking test, go test -timeout), which would otherwise
// leave tens of megabytes in the temp dir per crash. A directory is stale
// when nobody holds the flock on its lock file any more: the kernel drops it
// when its owner dies, whatever way it died.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempPattern))
	for _, dir := range dirs {
		// Young directories may belong to a binary that has created but
		// not yet locked its lock file.
		if fi, err := os.Stat(dir); err != nil || time.Since(fi.ModTime()) < time.Minute {
			continue
		}
		if postmasterAlive(filepath.Join(dir, "data")) {
			continue
		}
		f, err := os.Open(filepath.Join(dir, lockName))
		if errors.Is(err, os.ErrNotExist) {
			// Left half-deleted by a binary killed during its teardown.
			os.RemoveAll(dir)
		}
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			os.RemoveAll(dir)
		}
		f.Close()
	}
}

// postmasterAlive guards removeStale on systems without Pdeathsig, where a
// server can outlive its test binary and must not lose its data directory.
func postmasterAlive(dataDir string) bool {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return false
	}
	return syscall.Kill(pid, 0) != syscall.ESRCH
}

// tail keeps error messages readable: the end of a log is where the failure is.
func tail(b []byte) string {
	const max = 4000
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = "..." + s[len(s)-max:]
	}
	return s
}
