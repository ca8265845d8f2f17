package caddymodule

import (
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/gate"
)

// TestIdentityPlaceholders: the placeholders show the admission's
// identity; a second admission of the same request shows its own, as the
// identity headers do; a value a later handler sets comes first.
func TestIdentityPlaceholders(t *testing.T) {
	const show = "{http.linkgate.alias} {http.linkgate.role} [{http.linkgate.user}] " +
		"{http.auth.user.id} {http.auth.user.alias} {http.auth.user.role} {http.linkgate.other}"
	repl := caddyhttp.NewTestReplacer(httptest.NewRequest("GET", "/live/x/", nil))

	first := gate.Decision{Alias: &alias.Alias{ID: "aaaaaaaaaaaa", Type: alias.TypeLive}, Grant: alias.Grant{Role: alias.RoleViewer}}
	id := gate.IdentityOf(&first)
	setIdentityPlaceholders(repl, &first, &id)
	if got, want := repl.ReplaceAll(show, "-"), "aaaaaaaaaaaa viewer [-] viewer:aaaaaaaaaaaa aaaaaaaaaaaa viewer -"; got != want {
		t.Errorf("after one admission: %q, want %q", got, want)
	}

	second := gate.Decision{Alias: &alias.Alias{ID: "bbbbbbbbbbbb", Type: alias.TypeConference}, Grant: alias.Grant{Role: alias.RoleHost, User: "henry"}}
	id = gate.IdentityOf(&second)
	setIdentityPlaceholders(repl, &second, &id)
	if got, want := repl.ReplaceAll(show, "-"), "bbbbbbbbbbbb host [henry] henry bbbbbbbbbbbb host -"; got != want {
		t.Errorf("after a second admission: %q, want %q", got, want)
	}

	repl.Set("http.auth.user.id", "set-later")
	if got, want := repl.ReplaceAll("{http.auth.user.id}", ""), "set-later"; got != want {
		t.Errorf("a value set after the admission: %q, want %q", got, want)
	}
}
