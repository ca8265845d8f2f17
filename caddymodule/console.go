package caddymodule

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/linkgate/linkgate/console"
)

func init() {
	caddy.RegisterModule(AliasConsole{})
}

// AliasConsole serves the organizer's web console: a page that signs in
// with an organization token and calls the alias API of the same site.
// It answers every request it gets: mount it on a path of its own.
//
// Each URL template may hold {id}, {key}, {passcode} and {token}; a
// relative one is taken from the console's origin. An omitted template
// takes its default (see console.Defaults); "off" hides the link.
type AliasConsole struct {
	// ViewerURL is where viewers open a live alias.
	ViewerURL string `json:"viewer_url,omitempty"`
	// RoomURL is where participants open a conference alias.
	RoomURL string `json:"room_url,omitempty"`
	// WHIPURL is the WHIP ingest URL of a live alias.
	WHIPURL string `json:"whip_url,omitempty"`
	// RTMPURL is the RTMP ingest URL of the operator's media server.
	RTMPURL string `json:"rtmp_url,omitempty"`
	// SRTURL is the SRT ingest URL of the operator's media server.
	SRTURL string `json:"srt_url,omitempty"`
	// PreviewURL is the HLS playlist the console previews a live alias
	// with: a path on the console's own site.
	PreviewURL string `json:"preview_url,omitempty"`
	// PageSize is how many aliases the list loads at a time (default 50).
	PageSize int `json:"page_size,omitempty"`

	handler *console.Handler
}

// CaddyModule returns the Caddy module information.
func (AliasConsole) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.alias_console",
		New: func() caddy.Module { return new(AliasConsole) },
	}
}

// Provision builds the console with the linkgate app's token lifetime
// bound, so it offers no signed link the gateway would refuse.
func (h *AliasConsole) Provision(ctx caddy.Context) error {
	opts := console.Defaults()
	for _, s := range []struct {
		value string
		dst   *string
	}{
		{h.ViewerURL, &opts.ViewerURL}, {h.RoomURL, &opts.RoomURL}, {h.WHIPURL, &opts.WHIPURL},
		{h.RTMPURL, &opts.RTMPURL}, {h.SRTURL, &opts.SRTURL}, {h.PreviewURL, &opts.PreviewURL},
	} {
		switch s.value {
		case "":
		case "off":
			*s.dst = ""
		default:
			*s.dst = s.value
		}
	}
	if h.PageSize != 0 {
		opts.PageSize = h.PageSize
	}
	app, err := ctx.AppIfConfigured("linkgate")
	switch {
	case errors.Is(err, caddy.ErrNotConfigured):
	case err != nil:
		return fmt.Errorf("loading the linkgate app: %w", err)
	default:
		opts.MaxTokenLifetime = time.Duration(app.(*App).MaxTokenLifetime)
	}
	h.handler, err = console.New(opts)
	return err
}

// ServeHTTP serves the console; it never calls next.
func (h *AliasConsole) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	h.handler.ServeHTTP(w, r)
	return nil
}

var (
	_ caddy.Provisioner           = (*AliasConsole)(nil)
	_ caddyhttp.MiddlewareHandler = (*AliasConsole)(nil)
)
