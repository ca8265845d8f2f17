package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// row is one sample of the node.
type row struct {
	elapsed    time.Duration
	rssKiB     int64
	goroutines int
	fds        int
	pgConns    int // the node's connections to its database
	requests   int64
	resets     int64
	errors     int64
	reloads    int
}

var header = []string{"elapsed_s", "rss_kib", "goroutines", "fds", "pg_connections", "requests", "resets", "errors", "reloads"}

func (r row) record() []string {
	return []string{
		strconv.FormatFloat(r.elapsed.Seconds(), 'f', 1, 64),
		strconv.FormatInt(r.rssKiB, 10),
		strconv.Itoa(r.goroutines),
		strconv.Itoa(r.fds),
		strconv.Itoa(r.pgConns),
		strconv.FormatInt(r.requests, 10),
		strconv.FormatInt(r.resets, 10),
		strconv.FormatInt(r.errors, 10),
		strconv.Itoa(r.reloads),
	}
}

// sampler reads the node's footprint and appends it to the CSV file.
type sampler struct {
	pid   int
	admin string
	db    *pgx.Conn
	f     *os.File
	w     *csv.Writer
	rows  []row
}

func newSampler(ctx context.Context, pid int, admin, database, path string) (*sampler, error) {
	db, err := pgx.Connect(ctx, database)
	if err != nil {
		return nil, fmt.Errorf("connecting to the database: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		db.Close(ctx)
		return nil, err
	}
	s := &sampler{pid: pid, admin: admin, db: db, f: f, w: csv.NewWriter(f)}
	s.w.Write(header)
	return s, nil
}

func (s *sampler) close() {
	s.db.Close(context.Background())
	s.f.Close()
}

func (s *sampler) sample(start time.Time, l *load, reloads int) error {
	r := row{elapsed: time.Since(start), requests: l.requests.Load(), resets: l.resets.Load(), errors: l.errors.Load(), reloads: reloads}
	var err error
	if r.rssKiB, err = s.rss(); err != nil {
		return err
	}
	if r.goroutines, err = s.goroutines(); err != nil {
		return err
	}
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.pid))
	if err != nil {
		return err
	}
	r.fds = len(entries)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = s.db.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&r.pgConns)
	if err != nil {
		return fmt.Errorf("counting connections: %w", err)
	}
	s.rows = append(s.rows, r)
	s.w.Write(r.record())
	s.w.Flush()
	return s.w.Error()
}

// rss reads the node's resident memory from /proc.
func (s *sampler) rss() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", s.pid)
}

// goroutines reads the node's goroutine count from the admin API's
// profile, asking again when a reload, which replaces the admin server,
// reset the connection.
func (s *sampler) goroutines() (n int, err error) {
	for range 3 {
		if n, err = s.goroutinesOnce(); err == nil {
			return n, nil
		}
	}
	return 0, err
}

func (s *sampler) goroutinesOnce() (int, error) {
	resp, err := http.Get(s.admin + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	first, err := bufio.NewReader(io.LimitReader(resp.Body, 1<<10)).ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("goroutine profile: %w", err)
	}
	return strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(first, "goroutine profile: total ")))
}
