// Package migrate reads a store's embedded migrations: SQL files named
// NNNN_what.sql, applied in the order of their numbers. Each store applies
// them under its own lock and records them in its own table; this is the
// part they share.
package migrate

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migration is one migration file.
type Migration struct {
	Version int64
	Name    string
	SQL     string
}

// Pending returns the migrations of dir in fsys whose versions are not in
// applied, in version order.
func Pending(fsys fs.FS, dir string, applied []int64) ([]Migration, error) {
	files, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	var pending []Migration
	for _, name := range files {
		digits, _, _ := strings.Cut(path.Base(name), "_")
		version, err := strconv.ParseInt(digits, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("migration %s does not start with a version number", name)
		}
		if slices.Contains(applied, version) {
			continue
		}
		sql, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		pending = append(pending, Migration{Version: version, Name: name, SQL: string(sql)})
	}
	slices.SortFunc(pending, func(a, b Migration) int { return int(a.Version - b.Version) })
	return pending, nil
}

// Versions returns the versions of ms, in their order, never nil.
func Versions(ms []Migration) []int64 {
	versions := make([]int64, 0, len(ms))
	for _, m := range ms {
		versions = append(versions, m.Version)
	}
	return versions
}
