package testcaddy

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// FallthroughStatus is what a test site answers for requests none of its
// routes handled; readiness checks look for it.
const FallthroughStatus = 299

// Site is the Caddyfile of a node in the tests that run several: the
// alias API, a /live/* route behind alias_auth in front of an upstream,
// Caddy's metrics at /metrics and FallthroughStatus for anything else,
// after GlobalOptions.
type Site struct {
	Database string // the linkgate database option, verbatim
	Options  string // more options of the linkgate block
	Port     int
	Admin    int    // port of Caddy's admin API; 0 leaves it off
	Upstream string // host:port of the media backend
	Routes   string // more directives of the site
	Extra    string // more sites
	Storage  string // Caddy's storage directory
}

// NewSite is a site on a free port in front of up, for database.
func NewSite(t testing.TB, database string, up *httptest.Server) Site {
	t.Helper()
	return Site{Database: database, Upstream: up.Listener.Addr().String(), Port: FreePort(t), Storage: t.TempDir()}
}

// Caddyfile is the site's configuration, formatted.
func (s Site) Caddyfile(t testing.TB) string {
	t.Helper()
	global := GlobalOptions(s.Storage)
	if s.Admin != 0 {
		on := strings.Replace(global, "admin off", fmt.Sprintf("admin 127.0.0.1:%d", s.Admin), 1)
		if on == global {
			t.Fatalf("GlobalOptions has no %q to replace: %s", "admin off", global)
		}
		global = on
	}
	text := fmt.Sprintf(`{
	%s
	linkgate {
		database %s
		%s
	}
}

http://127.0.0.1:%d {
	bind 127.0.0.1
	alias_api
	handle /live/* {
		alias_auth live
		reverse_proxy %s
	}
	handle /metrics {
		metrics
	}
	%s
	respond "fallthrough" %d
}
%s
`, global, s.Database, s.Options, s.Port, s.Upstream, s.Routes, FallthroughStatus, s.Extra)
	// Formatted, or Caddy warns about the blank lines left by empty parts.
	return string(caddyfile.Format([]byte(text)))
}

// Base is the site's URL.
func (s Site) Base() string { return fmt.Sprintf("http://127.0.0.1:%d", s.Port) }
