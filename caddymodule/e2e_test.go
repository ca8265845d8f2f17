package caddymodule_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/internal/testcaddy"
)

// API paths, as the seed documents them.
const (
	pathRetrieve = "/api/v1/alias/"
	pathList     = "/organization/api/v1/aliases"
	pathCreate   = "/organization/api/v1/alias/create"
	pathUpdate   = "/organization/api/v1/alias/update/"
	pathDelete   = "/organization/api/v1/alias/delete/"
)

const (
	jwtSecret = "a-jwt-secret-of-at-least-32-bytes-for-hs256"
	streamKey = "sk-live-0123456789abcdef"
	passcode  = "open-sesame"
)

// TestAPIThroughCaddy drives every endpoint of the alias API through a real
// Caddy that adapted the documented Caddyfile, with the database URL written
// in and through each placeholder the design promises for secrets.
func TestAPIThroughCaddy(t *testing.T) {
	for _, tc := range []struct {
		name     string
		database func(t *testing.T, dsn string) string
		// inJSON says whether the DSN may appear in the adapted config:
		// a placeholder is resolved at Provision, so it must not.
		inJSON bool
	}{
		{"literal URL", func(_ *testing.T, dsn string) string { return dsn }, true},
		{"env placeholder", func(t *testing.T, dsn string) string {
			t.Setenv("LINKGATE_TEST_DSN", dsn)
			return "{env.LINKGATE_TEST_DSN}"
		}, false},
		{"file placeholder", func(t *testing.T, dsn string) string {
			// A secret file as Docker and systemd write it: with a
			// final newline.
			path := filepath.Join(t.TempDir(), "dsn")
			if err := os.WriteFile(path, []byte(dsn+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return "{file." + path + "}"
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := pgtest.DB(t)
			text, base := site{database: tc.database(t, dsn)}.caddyfile(t)
			cfg := testcaddy.Load(t, text)
			if got := bytes.Contains(cfg, []byte(dsn)); got != tc.inJSON {
				t.Errorf("the DSN appears in the adapted config: %v, want %v", got, tc.inJSON)
			}
			// After the load: the app's start must have made the schema.
			_, token := newOrg(t, dsn)
			_, otherToken := newOrg(t, dsn)
			exerciseAPI(t, base, token, otherToken)
		})
	}
}

// exerciseAPI is the organizer's and viewer's tour of the API: every
// endpoint, every kind of credential, and the documented error answers.
func exerciseAPI(t *testing.T, base, token, otherToken string) {
	create := func(auth, body string) response {
		return do(t, http.MethodPost, base+pathCreate, auth, body)
	}

	// The other organization owns an alias that must never show up in
	// the first one's list.
	foreign := wantAlias(t, create(otherToken, fmt.Sprintf(`{"type":"live","expired_at":%d}`, inAnHour())), http.StatusCreated)

	expiry := inAnHour()
	full := wantAlias(t, create(token, fmt.Sprintf(`{"type":"live","name":"Launch","passcode":%q,"jwt_secret":%q,"stream_key":%q,"expired_at":%d}`,
		passcode, jwtSecret, streamKey, expiry)), http.StatusCreated)
	id, _ := full["id"].(string)
	for k, want := range map[string]any{"type": "live", "name": "Launch", "passcode": passcode, "jwt_secret": jwtSecret, "stream_key": streamKey} {
		if full[k] != want {
			t.Errorf("created alias %s = %#v, want %#v", k, full[k], want)
		}
	}
	if got := unix(t, full["expired_at"]); got != expiry {
		t.Errorf("created alias expired_at = %d, want %d", got, expiry)
	}
	if d := time.Since(time.Unix(unix(t, full["inserted_at"]), 0)); d < -time.Minute || d > time.Minute {
		t.Errorf("created alias inserted_at is %v away from now", d)
	}

	// The seed shows the token with and without the Bearer scheme.
	public := wantAlias(t, create("Bearer "+token, fmt.Sprintf(`{"type":"conference","expired_at":%d}`, inAnHour())), http.StatusCreated)
	for _, k := range []string{"name", "passcode", "jwt_secret", "stream_key"} {
		if public[k] != nil {
			t.Errorf("alias created without %s shows %#v, want null", k, public[k])
		}
	}

	t.Run("create refusals", func(t *testing.T) {
		valid := fmt.Sprintf(`{"type":"live","expired_at":%d}`, inAnHour())
		for _, tc := range []struct {
			name, auth, body string
			status           int
			code             string
		}{
			{"no token", "", valid, http.StatusUnauthorized, "unauthorized"},
			{"made-up token", "lgo_not-a-real-token", valid, http.StatusUnauthorized, "unauthorized"},
			{"bad type", token, fmt.Sprintf(`{"type":"radio","expired_at":%d}`, inAnHour()), http.StatusBadRequest, ""},
			{"unknown key", token, fmt.Sprintf(`{"type":"live","expired_at":%d,"colour":"red"}`, inAnHour()), http.StatusBadRequest, "unknown_field"},
			{"not JSON", token, "type=live", http.StatusBadRequest, "invalid_json"},
			{"body over 64 KiB", token, `{"name":"` + strings.Repeat("x", 65<<10) + `"}`, http.StatusRequestEntityTooLarge, "body_too_large"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := create(tc.auth, tc.body)
				if tc.code == "" {
					wantJSON(t, r, tc.status)
					return
				}
				wantError(t, r, tc.status, tc.code)
			})
		}
	})

	t.Run("retrieve", func(t *testing.T) {
		host := signJWT(t, jwtSecret, jwt.MapClaims{"alias": id, "host": true})
		viewer := signJWT(t, jwtSecret, jwt.MapClaims{"alias": id, "user_id": "u1"})
		forged := signJWT(t, strings.Repeat("z", 40), jwt.MapClaims{"alias": id, "host": true})
		all := map[string]any{"passcode": passcode, "jwt_secret": jwtSecret, "stream_key": streamKey}
		none := map[string]any{"passcode": nil, "jwt_secret": nil, "stream_key": nil}
		for _, tc := range []struct {
			name, id, query, auth string
			status                int
			code                  string         // for errors
			secrets               map[string]any // for 200
		}{
			{"owner token", id, "", token, http.StatusOK, "", all},
			{"owner token with Bearer", id, "", "Bearer " + token, http.StatusOK, "", all},
			{"host JWT", id, "", "Bearer " + host, http.StatusOK, "", map[string]any{"passcode": passcode, "jwt_secret": nil, "stream_key": streamKey}},
			{"viewer JWT", id, "", "Bearer " + viewer, http.StatusOK, "", none},
			{"passcode", id, "?passcode=" + url.QueryEscape(passcode), "", http.StatusOK, "", none},
			{"public alias, no credential", public["id"].(string), "", "", http.StatusOK, "", none},
			{"wrong passcode", id, "?passcode=guess", "", http.StatusUnauthorized, "unauthorized", nil},
			{"JWT signed with another secret", id, "", "Bearer " + forged, http.StatusUnauthorized, "unauthorized", nil},
			{"another organization's token", id, "", otherToken, http.StatusNotFound, "alias_not_found", nil},
			{"unknown alias", "nosuchalias0", "", token, http.StatusNotFound, "alias_not_found", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := do(t, http.MethodGet, base+pathRetrieve+tc.id+tc.query, tc.auth, "")
				if tc.secrets == nil {
					wantError(t, r, tc.status, tc.code)
					return
				}
				a := wantAlias(t, r, tc.status)
				if a["id"] != tc.id {
					t.Errorf("retrieved alias %v, want %s", a["id"], tc.id)
				}
				for k, want := range tc.secrets {
					if a[k] != want {
						t.Errorf("%s = %#v, want %#v", k, a[k], want)
					}
				}
			})
		}

		t.Run("no credential", func(t *testing.T) {
			r := do(t, http.MethodGet, base+pathRetrieve+id, "", "")
			wantError(t, r, http.StatusUnauthorized, "unauthorized")
			if got, want := r.header.Get("WWW-Authenticate"), `Bearer realm="linkgate"`; got != want {
				t.Errorf("WWW-Authenticate %q, want %q", got, want)
			}
		})
	})

	t.Run("list", func(t *testing.T) {
		// Two more, so that the organization has four aliases: full,
		// public, and these.
		want := []string{id, public["id"].(string)}
		for range 2 {
			a := wantAlias(t, create(token, fmt.Sprintf(`{"type":"live","expired_at":%d}`, inAnHour())), http.StatusCreated)
			want = append(want, a["id"].(string))
		}

		var got []string
		after := ""
		for page := 1; ; page++ {
			if page > len(want) {
				t.Fatalf("still paging after %d pages: %v", page-1, got)
			}
			q := "?limit=3"
			if after != "" {
				q += "&after=" + url.QueryEscape(after)
			}
			ids, next := listPage(t, base, token, q)
			if len(ids) > 3 {
				t.Fatalf("page %d has %d entries, limit was 3", page, len(ids))
			}
			got = append(got, ids...)
			if next == "" {
				break
			}
			after = next
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("paged list %v, want %v in creation order (the foreign alias %v must not appear)", got, want, foreign["id"])
		}

		if ids, _ := listPage(t, base, token, "?type=conference"); len(ids) != 1 || ids[0] != public["id"] {
			t.Errorf("type=conference lists %v, want [%v]", ids, public["id"])
		}
		if ids, _ := listPage(t, base, otherToken, ""); len(ids) != 1 || ids[0] != foreign["id"] {
			t.Errorf("the other organization lists %v, want only its own [%v]", ids, foreign["id"])
		}

		for _, tc := range []struct {
			name, query, auth string
			status            int
			code              string
		}{
			{"limit 0", "?limit=0", token, http.StatusBadRequest, "invalid_query"},
			{"limit over 500", "?limit=501", token, http.StatusBadRequest, "invalid_query"},
			{"bad cursor", "?after=garbage", token, http.StatusBadRequest, "invalid_cursor"},
			{"bad type", "?type=radio", token, http.StatusBadRequest, "invalid_query"},
			{"no token", "", "", http.StatusUnauthorized, "unauthorized"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, do(t, http.MethodGet, base+pathList+tc.query, tc.auth, ""), tc.status, tc.code)
			})
		}
	})

	t.Run("update", func(t *testing.T) {
		r := do(t, http.MethodPost, base+pathUpdate+id, token, `{"name":null,"passcode":"new-passcode"}`)
		a := wantAlias(t, r, http.StatusOK)
		want := map[string]any{
			"id": id, "type": "live", "name": nil, "passcode": "new-passcode",
			"jwt_secret": jwtSecret, "stream_key": streamKey,
			"expired_at": full["expired_at"], "inserted_at": full["inserted_at"],
		}
		for k, v := range want {
			if a[k] != v {
				t.Errorf("updated %s = %#v, want %#v", k, a[k], v)
			}
		}
		// The change is stored, not only echoed.
		stored := wantAlias(t, do(t, http.MethodGet, base+pathRetrieve+id, token, ""), http.StatusOK)
		if stored["name"] != nil || stored["passcode"] != "new-passcode" {
			t.Errorf("after the update the API shows name %#v, passcode %#v", stored["name"], stored["passcode"])
		}
		wantError(t, do(t, http.MethodGet, base+pathRetrieve+id+"?passcode="+passcode, "", ""), http.StatusUnauthorized, "unauthorized")
		wantAlias(t, do(t, http.MethodGet, base+pathRetrieve+id+"?passcode=new-passcode", "", ""), http.StatusOK)

		for _, tc := range []struct {
			name, id, auth, body string
			status               int
			code                 string
		}{
			{"unknown alias", "nosuchalias0", token, `{"name":"x"}`, http.StatusBadRequest, "alias_not_found"},
			{"another organization's alias", id, otherToken, `{"name":"x"}`, http.StatusBadRequest, "alias_not_found"},
			{"no token", id, "", `{"name":"x"}`, http.StatusUnauthorized, "unauthorized"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, do(t, http.MethodPost, base+pathUpdate+tc.id, tc.auth, tc.body), tc.status, tc.code)
			})
		}
		t.Run("type cannot be null", func(t *testing.T) {
			wantJSON(t, do(t, http.MethodPost, base+pathUpdate+id, token, `{"type":null}`), http.StatusBadRequest)
		})
	})

	t.Run("delete", func(t *testing.T) {
		wantError(t, do(t, http.MethodDelete, base+pathDelete+id, otherToken, ""), http.StatusNotFound, "alias_not_found")
		wantAlias(t, do(t, http.MethodGet, base+pathRetrieve+id, token, ""), http.StatusOK)

		r := do(t, http.MethodDelete, base+pathDelete+id, token, "")
		wantJSON(t, r, http.StatusOK)
		if len(r.json) != 1 || r.json["message"] != "Alias deleted successfully." {
			t.Errorf("delete answered %s", r.raw)
		}
		wantError(t, do(t, http.MethodDelete, base+pathDelete+id, token, ""), http.StatusNotFound, "alias_not_found")
		wantError(t, do(t, http.MethodGet, base+pathRetrieve+id, token, ""), http.StatusNotFound, "alias_not_found")
	})

	t.Run("other paths pass on", func(t *testing.T) {
		for _, path := range []string{"/", "/live/" + public["id"].(string), "/api/v2/alias/abc"} {
			r := do(t, http.MethodGet, base+path, token, "")
			if r.status != fallthroughStatus || string(r.raw) != "fallthrough" {
				t.Errorf("GET %s: %d %q, want the site's %d %q", path, r.status, r.raw, fallthroughStatus, "fallthrough")
			}
		}
	})

	t.Run("paths under the API's prefixes stay the API's", func(t *testing.T) {
		wantError(t, do(t, http.MethodGet, base+pathRetrieve+"abc/def", token, ""), http.StatusNotFound, "alias_not_found")
		wantError(t, do(t, http.MethodGet, base+"/organization/api/v1/other", token, ""), http.StatusNotFound, "not_found")
	})

	t.Run("wrong method", func(t *testing.T) {
		for _, tc := range []struct{ method, path, allow string }{
			{http.MethodGet, pathCreate, "POST"},
			{http.MethodPut, pathUpdate + public["id"].(string), "POST"},
			{http.MethodGet, pathDelete + public["id"].(string), "DELETE"},
			{http.MethodPost, pathRetrieve + public["id"].(string), "GET, HEAD"},
			{http.MethodDelete, pathList, "GET, HEAD"},
		} {
			t.Run(tc.method+" "+tc.path, func(t *testing.T) {
				r := do(t, tc.method, base+tc.path, token, "")
				wantError(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
				if got := r.header.Get("Allow"); got != tc.allow {
					t.Errorf("Allow %q, want %q", got, tc.allow)
				}
			})
		}
	})
}

// listPage fetches one page of the organization's aliases and returns their
// IDs and the cursor of the next page ("" on the last).
func listPage(t *testing.T, base, token, query string) (ids []string, after string) {
	t.Helper()
	r := do(t, http.MethodGet, base+pathList+query, token, "")
	wantJSON(t, r, http.StatusOK)
	entries, ok := r.json["entries"].([]any)
	if _, hasAfter := r.json["after"]; len(r.json) != 2 || !ok || !hasAfter {
		t.Fatalf(`list answered %s, want {"after":...,"entries":[...]}`, r.raw)
	}
	for _, e := range entries {
		env, _ := e.(map[string]any)
		a, ok := env["data"].(map[string]any)
		if len(env) != 1 || !ok {
			t.Fatalf(`list entry %v, want {"data": alias}`, e)
		}
		checkAliasShape(t, a)
		ids = append(ids, a["id"].(string))
	}
	switch next := r.json["after"].(type) {
	case nil:
	case string:
		if next == "" {
			t.Fatalf(`list answered "after": "", want a cursor or null`)
		}
		after = next
	default:
		t.Fatalf("list answered after %#v, want a string or null", next)
	}
	return ids, after
}

// signJWT signs claims with HS256 and secret, valid for the next hour.
func signJWT(t *testing.T, secret string, claims jwt.MapClaims) string {
	t.Helper()
	now := time.Now()
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(time.Hour).Unix()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
