// Command soak runs one linkgate node for a long time under steady viewer
// load, with alias churn (creates, updates, deletes, revocations) and a
// config reload every minute, and records every few seconds what a leak
// would grow: the node's resident memory, goroutines, open file
// descriptors and PostgreSQL connections. It writes them to a CSV file,
// plots them to a PNG, and prints a summary. bench/soak.sh builds the
// binary, provides a database and runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.caddy, "caddy", "", "the caddy binary built from cmd/caddy (required)")
	flag.StringVar(&cfg.database, "database", os.Getenv("LINKGATE_DATABASE"), "postgres:// URL of a database the node may use (default $LINKGATE_DATABASE)")
	flag.DurationVar(&cfg.duration, "duration", 30*time.Minute, "how long to run")
	flag.DurationVar(&cfg.interval, "interval", 5*time.Second, "how often to sample the node")
	flag.DurationVar(&cfg.reloadEvery, "reload", time.Minute, "how often to reload the node's config")
	flag.IntVar(&cfg.viewers, "viewers", 4, "viewer connections, each asking for a segment every 10 ms")
	flag.StringVar(&cfg.csv, "csv", "soak.csv", "where to write the samples")
	flag.StringVar(&cfg.png, "png", "soak.png", "where to write the plot")
	flag.Parse()
	if cfg.caddy == "" || cfg.database == "" {
		flag.Usage()
		os.Exit(2)
	}
	// The node runs in a directory of its own.
	var err error
	if cfg.caddy, err = filepath.Abs(cfg.caddy); err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		log.Fatal(err)
	}
}

type config struct {
	caddy, database string
	duration        time.Duration
	interval        time.Duration
	reloadEvery     time.Duration
	viewers         int
	csv, png        string
}

func run(ctx context.Context, cfg config) error {
	work, err := os.MkdirTemp("", "linkgate-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	upstream, err := serveUpstream()
	if err != nil {
		return err
	}
	defer upstream.Close()
	site, err := newSite(work, upstream.Addr().String())
	if err != nil {
		return err
	}
	if err := site.write(0); err != nil {
		return err
	}
	n, err := startNode(cfg.caddy, cfg.database, work, site)
	if err != nil {
		return err
	}
	defer n.stop()
	if err := n.waitReady(ctx, site); err != nil {
		return err
	}
	token, err := orgToken(cfg.caddy, cfg.database)
	if err != nil {
		return err
	}
	s, err := newSampler(ctx, n.cmd.Process.Pid, site.admin(), cfg.database, cfg.csv)
	if err != nil {
		return err
	}
	defer s.close()

	l, err := startLoad(site.base(), token, cfg.viewers)
	if err != nil {
		return err
	}
	log.Printf("soak: node pid %d on %s, %d viewers, %v, samples every %v into %s", n.cmd.Process.Pid, site.base(), cfg.viewers, cfg.duration, cfg.interval, cfg.csv)

	start := time.Now()
	sample := time.NewTicker(cfg.interval)
	defer sample.Stop()
	reload := time.NewTicker(cfg.reloadEvery)
	defer reload.Stop()
	end := time.After(cfg.duration)
	reloads := 0
	if err := s.sample(start, l, reloads); err != nil {
		return err
	}
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-end:
			break loop
		case <-n.exited:
			l.stop()
			// The work directory goes when run returns: quote the log.
			logged, _ := os.ReadFile(filepath.Join(work, "caddy.log"))
			return fmt.Errorf("the node exited; the end of its log:\n%s", logged[max(0, len(logged)-4000):])
		case <-reload.C:
			reloads++
			if err := site.reload(reloads); err != nil {
				log.Printf("soak: reload %d: %v", reloads, err)
			}
		case <-sample.C:
			if err := s.sample(start, l, reloads); err != nil {
				return err
			}
		}
	}
	l.stop()
	if err := s.sample(start, l, reloads); err != nil {
		return err
	}
	if err := plot(s.rows, cfg.png); err != nil {
		return err
	}
	summarize(os.Stdout, s.rows, l)
	return nil
}

// freePort returns a port nothing listens on at the moment.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// serveUpstream is the media backend: it answers every request with a
// small segment.
func serveUpstream() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "video/mp2t")
		w.Write([]byte("segment\n"))
	}))
	return ln, nil
}

// node is the "caddy run" process.
type node struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

func startNode(bin, database, work string, s *site) (*node, error) {
	logf, err := os.Create(filepath.Join(work, "caddy.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "run", "--config", s.path)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "LINKGATE_DATABASE="+database, "HOME="+work,
		"XDG_CONFIG_HOME="+filepath.Join(work, "config"), "XDG_DATA_HOME="+filepath.Join(work, "data"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	n := &node{cmd: cmd, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(n.exited)
	}()
	return n, nil
}

func (n *node) waitReady(ctx context.Context, s *site) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-n.exited:
			return errors.New("the node exited while starting")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if r, err := http.Get(s.base() + "/config"); err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("the node does not answer on %s", s.base())
}

func (n *node) stop() {
	n.cmd.Process.Signal(os.Interrupt)
	select {
	case <-n.exited:
	case <-time.After(10 * time.Second):
		n.cmd.Process.Kill()
		<-n.exited
	}
}
