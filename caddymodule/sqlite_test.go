package caddymodule_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/linkgate/linkgate/internal/testcaddy"
	"github.com/linkgate/linkgate/store/sqlitestore"
)

// sqliteOrg creates an organization and its token through a connection of
// its own, as the linkgate commands do from another process.
func sqliteOrg(t *testing.T, path string) (orgID, token, tokenID string) {
	t.Helper()
	s, err := sqlitestore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	org, err := s.CreateOrg(ctx, "embedded")
	if err != nil {
		t.Fatal(err)
	}
	token, tokenID = testcaddy.NewToken(t, s, org.ID)
	return org.ID, token, tokenID
}

// TestEmbeddedStore runs the API on a SQLite file and changes the file from
// another connection, as the linkgate commands would: the node notices
// without notifications.
func TestEmbeddedStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "linkgate.db")
	base := startCaddy(t, "sqlite:"+path)
	_, token, tokenID := sqliteOrg(t, path)

	created := wantAlias(t, do(t, "POST", base+"/organization/api/v1/alias/create", token,
		fmt.Sprintf(`{"type":"live","passcode":"open-sesame","expired_at":%d}`, time.Now().Add(time.Hour).Unix())), http.StatusCreated)
	id := created["id"].(string)
	wantAlias(t, do(t, "GET", base+"/api/v1/alias/"+id+"?passcode=open-sesame", "", ""), http.StatusOK)
	wantAlias(t, do(t, "GET", base+"/api/v1/alias/"+id, token, ""), http.StatusOK)

	s, err := sqlitestore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.RevokeToken(t.Context(), tokenID); err != nil {
		t.Fatal(err)
	}
	testcaddy.PollUntil(t, 10*time.Second, "the node refuses a token revoked by another process", func() bool {
		return do(t, "GET", base+"/api/v1/alias/"+id, token, "").status == http.StatusUnauthorized
	})
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("the database file: %v, mode %v; want 0600", err, info.Mode().Perm())
	}
}

// TestDefaultDatabase starts a config that uses linkgate without naming a
// database: the embedded store lives under Caddy's data directory.
func TestDefaultDatabase(t *testing.T) {
	data := t.TempDir()
	t.Setenv("XDG_DATA_HOME", data)
	text, base := site{database: "sqlite:placeholder"}.caddyfile(t)
	text = strings.Replace(text, "database sqlite:placeholder", "", 1)
	testcaddy.Load(t, text)
	path := filepath.Join(data, "caddy", "linkgate", "linkgate.db")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no embedded database at %s: %v", path, err)
	}
	_, token, _ := sqliteOrg(t, path)
	r := do(t, "GET", base+"/organization/api/v1/aliases", token, "")
	wantJSON(t, r, http.StatusOK)
}
