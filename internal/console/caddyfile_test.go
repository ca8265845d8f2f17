package console

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/linkgate/linkgate/caddymodule"
	"github.com/linkgate/linkgate/internal/testcaddy"
)

// consoleHandlers returns every alias_console handler of an adapted
// config, as JSON objects.
func consoleHandlers(t *testing.T, cfg []byte) []map[string]any {
	t.Helper()
	var doc any
	if err := json.Unmarshal(cfg, &doc); err != nil {
		t.Fatal(err)
	}
	var found []map[string]any
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["handler"] == "alias_console" {
				found = append(found, v)
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	return found
}

func TestRootCaddyfileServesTheConsole(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("..", "..", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testcaddy.Adapt(t, string(text))
	handlers := consoleHandlers(t, cfg)
	if len(handlers) != 1 {
		t.Fatalf("the root Caddyfile has %d alias_console handlers, want 1", len(handlers))
	}
	// Bare, so that it takes the defaults that suit the file's routes.
	if len(handlers[0]) != 1 {
		t.Errorf("the root Caddyfile's alias_console has settings %v, want the defaults", handlers[0])
	}
	if !strings.Contains(string(cfg), `"/console/*"`) {
		t.Error("the root Caddyfile serves no /console/* path")
	}
}

func TestCaddyfileSyntax(t *testing.T) {
	cfg := testcaddy.Adapt(t, `{
	admin off
}
:0 {
	@console path /admin/*
	alias_console @console {
		viewer_url  https://watch.example.com/{id}
		room_url    off
		whip_url    /live/{id}/whip
		rtmp_url    rtmp://media.example.com/ingest/{key}
		srt_url     srt://media.example.com:8890?streamid=publish:live/{id}:x:{key}
		preview_url /live/{id}/index.m3u8
		page_size   20
	}
}`)
	handlers := consoleHandlers(t, cfg)
	if len(handlers) != 1 {
		t.Fatalf("%d alias_console handlers, want 1 (matcher-scoped, without an order option)", len(handlers))
	}
	want := map[string]any{
		"handler":     "alias_console",
		"viewer_url":  "https://watch.example.com/{id}",
		"room_url":    "off",
		"whip_url":    "/live/{id}/whip",
		"rtmp_url":    "rtmp://media.example.com/ingest/{key}",
		"srt_url":     "srt://media.example.com:8890?streamid=publish:live/{id}:x:{key}",
		"preview_url": "/live/{id}/index.m3u8",
		"page_size":   float64(20),
	}
	for k, v := range want {
		if handlers[0][k] != v {
			t.Errorf("adapted %s = %v, want %v", k, handlers[0][k], v)
		}
	}

	for name, body := range map[string]string{
		"unknown subdirective": "alias_console {\n\tlogo /x.png\n}",
		"missing value":        "alias_console {\n\tviewer_url\n}",
		"two values":           "alias_console {\n\tviewer_url /a /b\n}",
		"zero page size":       "alias_console {\n\tpage_size 0\n}",
		"an argument":          "alias_console on",
	} {
		text := ":0 {\n" + body + "\n}"
		if _, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(caddyfile.Format([]byte(text)), nil); err == nil {
			t.Errorf("%s: the Caddyfile adapted:\n%s", name, text)
		}
	}
}

// TestLoadRefusesBadTemplates: a template mistake stops the config from
// loading (as caddy validate and a reload see it), instead of showing as a
// broken link.
func TestLoadRefusesBadTemplates(t *testing.T) {
	for name, setting := range map[string]string{
		"unknown placeholder": "viewer_url /live/{alias}/index.m3u8",
		"absolute preview":    "preview_url https://cdn.example.com/{id}/index.m3u8",
		"page size over 500":  "page_size 501",
	} {
		if err := validate(t, ":0 {\n\talias_console {\n\t\t"+setting+"\n\t}\n}"); err == nil {
			t.Errorf("%s: a config with %q validates", name, setting)
		}
	}
	if err := validate(t, ":0 {\n\talias_console {\n\t\tviewer_url off\n\t}\n}"); err != nil {
		t.Errorf("a config with viewer_url off does not validate: %v", err)
	}
}

// validate provisions the Caddyfile's config as caddy validate does,
// without starting it.
func validate(t *testing.T, text string) error {
	t.Helper()
	var cfg caddy.Config
	if err := json.Unmarshal(testcaddy.Adapt(t, text), &cfg); err != nil {
		t.Fatal(err)
	}
	return caddy.Validate(&cfg)
}
