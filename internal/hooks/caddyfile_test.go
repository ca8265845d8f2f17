package hooks

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// site wraps directives in a site block of a config whose database is
// never reached: these tests only adapt and provision.
func site(directives string) string {
	return `{
	admin off
	linkgate {
		database postgres://linkgate@127.0.0.1:1/linkgate
	}
}
:0 {
	` + directives + `
}
`
}

func adaptSite(directives string) ([]byte, error) {
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(site(directives)), nil)
	return cfg, err
}

func TestCaddyfileErrors(t *testing.T) {
	for _, tc := range []struct{ name, directives, want string }{
		{"no media server", "alias_hooks", "needs the media server"},
		{"unknown media server", "alias_hooks wowza", `not "wowza"`},
		{"extra argument", "alias_hooks srs live", "wrong argument count"},
		{"unknown subdirective", "alias_hooks srs {\n\tpasscode x\n}", `unrecognized alias_hooks subdirective "passcode"`},
		{"ome without secret", "alias_hooks ome", "needs the secret key"},
		{"secret for srs", "alias_hooks srs {\n\tsecret x\n}", "secret is for ome only"},
		{"path_prefix for nginx", "alias_hooks nginx_rtmp {\n\tpath_prefix live\n}", "mediamtx only"},
		{"unknown action", "alias_hooks mediamtx {\n\tallow_actions api publish\n}", `not "publish"`},
		{"allow_actions without action", "alias_hooks mediamtx {\n\tallow_actions\n}", "wrong argument count"},
		{"throttle below a second", "alias_hooks srs {\n\tthrottle 3 10ms\n}", "at least 1s"},
		{"throttle of no failures", "alias_hooks srs {\n\tthrottle 0 1m\n}", "positive number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := adaptSite(tc.directives)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// TestCaddyfileJSON checks the JSON the Caddyfile adapts to: the secret
// stays a placeholder, resolved only when the handler is provisioned, so
// it never lands in a saved config.
func TestCaddyfileJSON(t *testing.T) {
	cfg, err := adaptSite(`handle /hooks/mediamtx {
		alias_hooks mediamtx {
			path_prefix live
			allow_actions api
			allow_actions metrics
			throttle 5 30s
		}
	}
	handle /hooks/ome {
		alias_hooks ome {
			secret {env.OME_SECRET}
			throttle off
		}
	}`)
	if err != nil {
		t.Fatal(err)
	}
	var handlers []map[string]any
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["handler"] == "alias_hooks" {
				handlers = append(handlers, v)
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	var doc any
	if err := json.Unmarshal(cfg, &doc); err != nil {
		t.Fatal(err)
	}
	walk(doc)
	if len(handlers) != 2 {
		t.Fatalf("%d alias_hooks handlers in %s", len(handlers), cfg)
	}
	got, _ := json.Marshal(handlers)
	for _, want := range []string{
		`"flavour":"mediamtx"`, `"path_prefix":"live"`, `"allow_actions":["api","metrics"]`,
		`"failure_limit":5`, `"failure_window":30000000000`,
		`"flavour":"ome"`, `"secret":"{env.OME_SECRET}"`, `"failure_limit":-1`,
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("adapted handlers %s lack %s", got, want)
		}
	}
}

// TestEmptySecretRefused checks that a secret whose placeholder resolves
// to nothing stops the config from loading, instead of accepting any
// signature made with an empty key.
func TestEmptySecretRefused(t *testing.T) {
	t.Setenv("LINKGATE_TEST_EMPTY_SECRET", "")
	cfg, err := adaptSite("alias_hooks ome {\n\tsecret {env.LINKGATE_TEST_EMPTY_SECRET}\n}")
	if err != nil {
		t.Fatal(err)
	}
	err = caddy.Load(cfg, true)
	if err == nil {
		caddy.Stop()
		t.Fatal("the config loaded")
	}
	if !strings.Contains(err.Error(), "secret is empty") {
		t.Errorf("error %v, want one about the empty secret", err)
	}
}
