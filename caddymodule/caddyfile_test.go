package caddymodule_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// caddyfileConfig is a config whose database is never reached: these
// tests adapt, and validate (which provisions but starts nothing).
func caddyfileConfig(global, directives string) string {
	return `{
	admin off
	linkgate {
		database postgres://linkgate@127.0.0.1:1/linkgate
		` + global + `
	}
}
:0 {
	` + directives + `
}
`
}

// validate provisions and validates a JSON config as "caddy validate"
// does, without starting it.
func validate(cfg []byte) error {
	var c caddy.Config
	if err := json.Unmarshal(cfg, &c); err != nil {
		return err
	}
	return caddy.Validate(&c)
}

func adapt(global, directives string) ([]byte, error) {
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfileConfig(global, directives)), nil)
	return cfg, err
}

// TestCaddyfileSyntax adapts every option and subdirective and checks the
// JSON each becomes.
func TestCaddyfileSyntax(t *testing.T) {
	t.Setenv("OME_SECRET", "admission-secret")
	for _, tc := range []struct {
		name, global, directives string
		// want are fragments of the adapted JSON.
		want []string
	}{
		{"database", "", "", []string{`"database":"postgres://linkgate@127.0.0.1:1/linkgate"`}},
		{"auto_migrate", "auto_migrate off", "", []string{`"auto_migrate":false`}},
		{"durations", "query_timeout 3s\njwt_leeway 1m\nmax_token_lifetime 2h\ncache_ttl 90s\nnegative_ttl 2s\nmax_stale 10m", "",
			[]string{`"query_timeout":3000000000`, `"jwt_leeway":60000000000`, `"max_token_lifetime":7200000000000`,
				`"cache_ttl":90000000000`, `"negative_ttl":2000000000`, `"max_stale":600000000000`}},
		{"max_stale off", "max_stale off", "", []string{`"max_stale":-1`}},
		{"numbers", "cache_size 500\nmin_jwt_secret_length 16\nthrottle_capacity 2000", "",
			[]string{`"cache_size":500`, `"min_jwt_secret_length":16`, `"throttle_capacity":2000`}},
		{"alias_api", "", "alias_api", []string{`"handler":"alias_api"`}},
		{"alias_api throttle", "", "alias_api {\n\tthrottle 5 30s\n}", []string{`"handler":"alias_api"`, `"failure_limit":5`, `"failure_window":30000000000`}},
		{"alias_auth", "", "alias_auth live", []string{`"handler":"alias_auth"`, `"type":"live"`}},
		{"alias_auth every subdirective", "", `alias_auth conference {
			id {http.request.uri.query.room}
			require host
			forward_credentials
			session_lifetime 1h
			passcode_page off
			secure_cookies always
			track_connections all
			playback_tokens off
			throttle off
		}`, []string{`"type":"conference"`, `"id":"{http.request.uri.query.room}"`, `"require":"host"`, `"forward_credentials":true`,
			`"session_lifetime":3600000000000`, `"passcode_page":false`, `"secure_cookies":"always"`, `"track_connections":"all"`, `"playback_tokens":false`, `"failure_limit":-1`}},
		{"alias_auth sessions off", "", "alias_auth live {\n\tsession_lifetime off\n}", []string{`"session_lifetime":-1`}},
		{"alias_auth no identity headers", "", "alias_auth live {\n\tidentity_headers none\n}", []string{`"identity_headers":["none"]`}},
		{"alias_auth some identity headers", "", "alias_auth live {\n\tidentity_headers alias role\n}", []string{`"identity_headers":["alias","role"]`}},
		{"alias_auth playback tokens on", "", "alias_auth live {\n\tplayback_tokens on\n}", []string{`"playback_tokens":true`}},
		{"alias_hooks mediamtx", "", "alias_hooks mediamtx {\n\tpath_prefix live\n\tallow_actions api\n\tallow_actions metrics\n\tthrottle 5 30s\n}",
			[]string{`"flavour":"mediamtx"`, `"path_prefix":"live"`, `"allow_actions":["api","metrics"]`, `"failure_limit":5`}},
		// The secret stays a placeholder in the JSON, resolved only when
		// the handler is provisioned, so it never lands in a saved config.
		{"alias_hooks ome", "", "alias_hooks ome {\n\tsecret {env.OME_SECRET}\n}", []string{`"flavour":"ome"`, `"secret":"{env.OME_SECRET}"`}},
		// The API's password stays a placeholder in the JSON too.
		{"alias_hooks mediamtx api", "", "alias_hooks mediamtx {\n\tapi http://linkgate:{env.MTX_API_PASS}@127.0.0.1:9997\n\tapi_timeout 3s\n\tsweep_interval 30s\n}",
			[]string{`"api":"http://linkgate:{env.MTX_API_PASS}@127.0.0.1:9997"`, `"api_timeout":3000000000`, `"sweep_interval":30000000000`}},
		{"alias_hooks srs api", "", "alias_hooks srs {\n\tapi https://srs.internal:1985/\n}", []string{`"flavour":"srs"`, `"api":"https://srs.internal:1985/"`}},
		// Ordered before handle: a path matcher is all it needs, and it
		// comes before the handle blocks of the routes.
		{"linkgate_health with a path", "", "handle /live/* {\n\trespond 200\n}\nlinkgate_health /healthz",
			[]string{`"routes":[{"match":[{"path":["/healthz"]}],"handle":[{"handler":"linkgate_health"}]},{"match":[{"path":["/live/*"]}]`}},
		{"linkgate_health in a handle block", "", "handle /healthz {\n\tlinkgate_health\n}", []string{`"handler":"linkgate_health"`, `"/healthz"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := adapt(tc.global, tc.directives)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.want {
				if !strings.Contains(string(cfg), want) {
					t.Errorf("adapted config lacks %s:\n%s", want, cfg)
				}
			}
			if err := validate(cfg); err != nil {
				t.Errorf("a valid config does not validate: %v", err)
			}
		})
	}
}

// TestCaddyfileErrors names every mistake the Caddyfile can hold and the
// message it gets: syntax when adapting, meaning when validating.
func TestCaddyfileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, global, directives string
		// adaptErr is what adapting says; empty when the mistake is the
		// config's meaning, which only validating finds.
		adaptErr, validateErr string
	}{
		{"unknown option", "colour red", "", `unrecognized linkgate option "colour"`, ""},
		{"option without value", "cache_ttl", "", "wrong argument count", ""},
		{"option with two values", "cache_ttl 1s 2s", "", "wrong argument count", ""},
		{"auto_migrate neither on nor off", "auto_migrate yes", "", `expected on or off, got "yes"`, ""},
		{"duration not a duration", "query_timeout soon", "", `query_timeout: "soon" is not a positive duration`, ""},
		{"duration zero", "jwt_leeway 0s", "", `jwt_leeway: "0s" is not a positive duration`, ""},
		{"max_stale negative", "max_stale -1s", "", `max_stale: "-1s" is not a positive duration`, ""},
		{"cache_size zero", "cache_size 0", "", `cache_size: "0" is not a positive number of aliases`, ""},
		{"throttle_capacity not a number", "throttle_capacity many", "", `throttle_capacity: "many" is not a positive number`, ""},
		{"min_jwt_secret_length over the maximum", "min_jwt_secret_length 600", "", "", "min_jwt_secret_length 600 is over the 512 bytes"},

		{"alias_api argument", "", "alias_api x", "wrong argument count", ""},
		{"alias_api unknown subdirective", "", "alias_api {\n\tprefix /api\n}", `unrecognized alias_api subdirective "prefix"`, ""},

		{"alias_auth without type", "", "alias_auth", "alias_auth needs the alias type: live or conference", ""},
		{"alias_auth unknown type", "", "alias_auth radio", "", `alias_auth: type must be live or conference, not "radio"`},
		{"alias_auth two arguments", "", "alias_auth live x", "wrong argument count", ""},
		{"alias_auth unknown subdirective", "", "alias_auth live {\n\tpasscode x\n}", `unrecognized alias_auth subdirective "passcode"`, ""},
		{"alias_auth id without value", "", "alias_auth live {\n\tid\n}", "wrong argument count", ""},
		{"alias_auth unknown requirement", "", "alias_auth live {\n\trequire admin\n}", "", `alias_auth: require must be viewer, publish or host, not "admin"`},
		{"alias_auth forward_credentials with a value", "", "alias_auth live {\n\tforward_credentials yes\n}", "wrong argument count", ""},
		{"alias_auth session_lifetime not a duration", "", "alias_auth live {\n\tsession_lifetime long\n}", `session_lifetime: "long" is not a positive duration or off`, ""},
		{"alias_auth passcode_page neither on nor off", "", "alias_auth live {\n\tpasscode_page maybe\n}", `expected on or off, got "maybe"`, ""},
		{"alias_auth passcode page without sessions", "", "alias_auth live {\n\tsession_lifetime off\n\tpasscode_page on\n}", "", "passcode_page needs session cookies"},
		{"alias_auth unknown track_connections", "", "alias_auth live {\n\ttrack_connections websockets\n}", "", `alias_auth: track_connections must be long, all or off, not "websockets"`},
		{"alias_auth track_connections without a value", "", "alias_auth live {\n\ttrack_connections\n}", "wrong argument count", ""},
		{"alias_auth playback_tokens neither on nor off", "", "alias_auth live {\n\tplayback_tokens yes\n}", `expected on or off, got "yes"`, ""},
		{"alias_auth playback_tokens without a value", "", "alias_auth live {\n\tplayback_tokens\n}", "wrong argument count", ""},
		{"alias_auth playback tokens without sessions", "", "alias_auth live {\n\tsession_lifetime off\n\tplayback_tokens on\n}", "", "playback_tokens live as long as sessions"},
		{"alias_auth unknown secure_cookies", "", "alias_auth live {\n\tsecure_cookies never\n}", "", `alias_auth: secure_cookies must be auto or always, not "never"`},
		{"alias_auth identity_headers without value", "", "alias_auth live {\n\tidentity_headers\n}", "wrong argument count", ""},
		{"alias_auth unknown identity header", "", "alias_auth live {\n\tidentity_headers alias cookie\n}", "", `identity_headers are alias, type, role and user, or none alone, not "cookie"`},
		{"alias_auth none among identity headers", "", "alias_auth live {\n\tidentity_headers none user\n}", "", `identity_headers are alias, type, role and user, or none alone, not "none"`},
		{"throttle without window", "", "alias_auth live {\n\tthrottle 5\n}", "wrong argument count", ""},
		{"throttle of no failures", "", "alias_auth live {\n\tthrottle 0 1m\n}", `throttle: "0" is not a positive number of failures`, ""},
		{"throttle window not a duration", "", "alias_auth live {\n\tthrottle 5 soon\n}", `throttle: "soon" is not a duration`, ""},
		{"throttle window below a second", "", "alias_api {\n\tthrottle 3 10ms\n}", "", "throttle: the failure window must be at least 1s, not 10ms"},

		{"alias_hooks without media server", "", "alias_hooks", "alias_hooks needs the media server: mediamtx, srs, nginx_rtmp or ome", ""},
		{"alias_hooks unknown media server", "", "alias_hooks wowza", "", `the flavour must be mediamtx, srs, nginx_rtmp or ome, not "wowza"`},
		{"alias_hooks extra argument", "", "alias_hooks srs live", "wrong argument count", ""},
		{"alias_hooks unknown subdirective", "", "alias_hooks srs {\n\tpasscode x\n}", `unrecognized alias_hooks subdirective "passcode"`, ""},
		{"alias_hooks ome without secret", "", "alias_hooks ome", "", "alias_hooks ome needs the secret key of OvenMediaEngine's AdmissionWebhooks"},
		{"alias_hooks secret for srs", "", "alias_hooks srs {\n\tsecret x\n}", "", "alias_hooks srs: secret is for ome only"},
		{"alias_hooks path_prefix for nginx", "", "alias_hooks nginx_rtmp {\n\tpath_prefix live\n}", "", "alias_hooks nginx_rtmp: path_prefix and allow_actions are for mediamtx only"},
		{"alias_hooks unknown action", "", "alias_hooks mediamtx {\n\tallow_actions api publish\n}", "", `allow_actions takes api, metrics and pprof, not "publish"`},
		{"alias_hooks allow_actions without action", "", "alias_hooks mediamtx {\n\tallow_actions\n}", "wrong argument count", ""},
		{"alias_hooks api without URL", "", "alias_hooks mediamtx {\n\tapi\n}", "wrong argument count", ""},
		{"alias_hooks api with two URLs", "", "alias_hooks srs {\n\tapi http://a:1985 http://b:1985\n}", "wrong argument count", ""},
		{"alias_hooks api_timeout not a duration", "", "alias_hooks srs {\n\tapi http://127.0.0.1:1985\n\tapi_timeout soon\n}", `api_timeout: "soon" is not a positive duration`, ""},
		{"alias_hooks sweep_interval zero", "", "alias_hooks mediamtx {\n\tapi http://127.0.0.1:9997\n\tsweep_interval 0s\n}", `sweep_interval: "0s" is not a positive duration`, ""},
		{"alias_hooks api for nginx", "", "alias_hooks nginx_rtmp {\n\tapi http://127.0.0.1:8080\n}", "", "alias_hooks nginx_rtmp: api is for mediamtx and srs only"},
		{"alias_hooks api of another scheme", "", "alias_hooks mediamtx {\n\tapi ftp://127.0.0.1:9997\n}", "", "alias_hooks mediamtx: the api URL is not valid: its scheme must be http or https"},
		{"alias_hooks api without host", "", "alias_hooks srs {\n\tapi http:///api\n}", "", "alias_hooks srs: the api URL is not valid: it has no host"},
		{"alias_hooks api with a query", "", "alias_hooks srs {\n\tapi http://127.0.0.1:1985/?x=1\n}", "", "the api URL is not valid: it must have neither query nor fragment"},
		{"alias_hooks api of nothing", "", "alias_hooks mediamtx {\n\tapi {env.LINKGATE_TEST_UNSET_API}\n}", "", "alias_hooks mediamtx: the api URL is empty once its placeholders are resolved"},
		{"alias_hooks api_timeout without api", "", "alias_hooks srs {\n\tapi_timeout 1s\n}", "", "alias_hooks srs: api_timeout and sweep_interval need api"},
		{"alias_hooks sweep_interval for srs", "", "alias_hooks srs {\n\tapi http://127.0.0.1:1985\n\tsweep_interval 1m\n}", "", "alias_hooks srs: sweep_interval is for mediamtx only"},
		{"linkgate_health argument", "", "linkgate_health /healthz now", "wrong argument count", ""},
		{"linkgate_health subdirective", "", "linkgate_health {\n\ttimeout 1s\n}", `linkgate_health takes no subdirectives, got "timeout"`, ""},

		{"alias_hooks secret of nothing", "", "alias_hooks ome {\n\tsecret {env.LINKGATE_TEST_UNSET_SECRET}\n}", "", "alias_hooks ome: the secret is empty once its placeholders are resolved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := adapt(tc.global, tc.directives)
			if tc.adaptErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.adaptErr) {
					t.Errorf("adapting: error %v, want one saying %q", err, tc.adaptErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("adapting: %v", err)
			}
			err = validate(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.validateErr) {
				t.Errorf("validating: error %v, want one saying %q", err, tc.validateErr)
			}
		})
	}
}

// TestGlobalOptionTakesNoArgument: the option is a block.
func TestGlobalOptionTakesNoArgument(t *testing.T) {
	cfg := strings.Replace(caddyfileConfig("", ""), "linkgate {", "linkgate here {", 1)
	_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cfg), nil)
	if err == nil || !strings.Contains(err.Error(), "wrong argument count") {
		t.Errorf("adapting: error %v, want wrong argument count", err)
	}
}

// TestJSONConfigIsValidatedToo checks that a JSON config, which no
// Caddyfile parser saw, gets the same checks.
func TestJSONConfigIsValidatedToo(t *testing.T) {
	cfg, err := adapt("", "alias_auth live")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(cfg), `"type":"live"`, `"type":"radio"`, 1)
	if err := validate([]byte(bad)); err == nil || !strings.Contains(err.Error(), `not "radio"`) {
		t.Errorf("a JSON alias_auth of type radio: error %v, want one naming the type", err)
	}
}
