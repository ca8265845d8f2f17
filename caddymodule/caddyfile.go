package caddymodule

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// The Caddyfile syntax of linkgate. UnmarshalCaddyfile reads what is
// written; the modules' Validate checks what it means, for Caddyfile and
// JSON configs alike.

func init() {
	httpcaddyfile.RegisterGlobalOption("linkgate", parseGlobalOption)
	httpcaddyfile.RegisterHandlerDirective("alias_api", parseHandler[AliasAPI])
	// Before handle, so the API answers beside the handle blocks of the
	// routes it protects without a route block or an order option.
	httpcaddyfile.RegisterDirectiveOrder("alias_api", httpcaddyfile.Before, "handle")
	httpcaddyfile.RegisterHandlerDirective("alias_auth", parseHandler[AliasAuth])
	// With the other authentication handlers: after basic_auth, before
	// anything that would act on the request for the client.
	httpcaddyfile.RegisterDirectiveOrder("alias_auth", httpcaddyfile.After, "basic_auth")
	httpcaddyfile.RegisterHandlerDirective("alias_hooks", parseHandler[AliasHooks])
	// Beside alias_api, before handle: a matcher-scoped alias_hooks
	// answers its path without a handle block or an order option, and
	// forward_auth or basic_auth still run before it.
	httpcaddyfile.RegisterDirectiveOrder("alias_hooks", httpcaddyfile.Before, "handle")
	httpcaddyfile.RegisterHandlerDirective("alias_console", parseHandler[AliasConsole])
	// Beside alias_api, before handle: "handle /console/* { alias_console }"
	// and a matcher-scoped alias_console both work without an order option.
	httpcaddyfile.RegisterDirectiveOrder("alias_console", httpcaddyfile.Before, "handle")
	httpcaddyfile.RegisterHandlerDirective("linkgate_health", parseHandler[LinkgateHealth])
	// Before handle, beside alias_api: "linkgate_health /healthz" answers
	// its path without a handle block or an order option, and a load
	// balancer's check reaches it before any route that would need a
	// credential.
	httpcaddyfile.RegisterDirectiveOrder("linkgate_health", httpcaddyfile.Before, "handle")
}

// handlerModule is a linkgate handler that reads its own directive.
type handlerModule[T any] interface {
	*T
	caddyhttp.MiddlewareHandler
	caddyfile.Unmarshaler
}

func parseHandler[T any, P handlerModule[T]](h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := P(new(T))
	if err := m.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return m, nil
}

// parseGlobalOption sets up the linkgate app from the global option:
//
//	linkgate {
//		database              <url>
//		auto_migrate          on|off
//		query_timeout         <duration>
//		jwt_leeway            <duration>
//		max_token_lifetime    <duration>
//		min_jwt_secret_length <bytes>
//		throttle_capacity     <clients>
//		cache_size            <aliases>
//		cache_ttl             <duration>
//		negative_ttl          <duration>
//		max_stale             <duration>|off
//	}
func parseGlobalOption(d *caddyfile.Dispenser, _ any) (any, error) {
	app := new(App)
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "linkgate", Value: caddyconfig.JSON(app, nil)}, nil
}

// UnmarshalCaddyfile reads the linkgate global option; see parseGlobalOption.
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the option name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		name := d.Val()
		if !d.NextArg() {
			return d.ArgErr()
		}
		val := d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
		switch name {
		case "database":
			a.Database = val
		case "auto_migrate":
			on, err := parseOnOff(d, val)
			if err != nil {
				return err
			}
			a.AutoMigrate = &on
		case "max_stale":
			if val == "off" {
				a.MaxStale = -1
				continue
			}
			fallthrough
		case "query_timeout", "jwt_leeway", "max_token_lifetime", "cache_ttl", "negative_ttl":
			// Zero or less would read as "the default" in JSON: only
			// positive durations say what they mean.
			dur, err := caddy.ParseDuration(val)
			if err != nil || dur <= 0 {
				return d.Errf("%s: %q is not a positive duration", name, val)
			}
			*map[string]*caddy.Duration{
				"query_timeout":      &a.QueryTimeout,
				"jwt_leeway":         &a.JWTLeeway,
				"max_token_lifetime": &a.MaxTokenLifetime,
				"cache_ttl":          &a.CacheTTL,
				"negative_ttl":       &a.NegativeTTL,
				"max_stale":          &a.MaxStale,
			}[name] = caddy.Duration(dur)
		case "cache_size":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 1 {
				return d.Errf("cache_size: %q is not a positive number of aliases", val)
			}
			a.CacheSize = n
		case "min_jwt_secret_length", "throttle_capacity":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return d.Errf("%s: %q is not a positive number", name, val)
			}
			if name == "throttle_capacity" {
				a.ThrottleCapacity = n
			} else {
				a.MinJWTSecretLength = n
			}
		default:
			return d.Errf("unrecognized linkgate option %q", name)
		}
	}
	return nil
}

func parseOnOff(d *caddyfile.Dispenser, val string) (bool, error) {
	switch val {
	case "on":
		return true, nil
	case "off":
		return false, nil
	}
	return false, d.Errf("expected on or off, got %q", val)
}

// UnmarshalCaddyfile reads the alias_api directive:
//
//	alias_api {
//		throttle <failures> <window>|off
//	}
func (h *AliasAPI) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		name := d.Val()
		args := d.RemainingArgs()
		switch name {
		case "throttle":
			if err := h.Throttle.unmarshal(d, args); err != nil {
				return err
			}
		default:
			return d.Errf("unrecognized alias_api subdirective %q", name)
		}
	}
	return nil
}

// UnmarshalCaddyfile reads the alias_auth directive:
//
//	alias_auth live|conference {
//		id                  <placeholder>
//		require             viewer|publish|host
//		forward_credentials
//		session_lifetime    <duration>|off
//		passcode_page       on|off
//		secure_cookies      auto|always
//		track_connections   long|all|off
//		playback_tokens     on|off
//		throttle            <failures> <window>|off
//		identity_headers    all|none|<alias|type|role|user>...
//	}
func (h *AliasAuth) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if !d.NextArg() {
		return d.Errf("alias_auth needs the alias type: live or conference")
	}
	h.Type = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		name := d.Val()
		args := d.RemainingArgs()
		switch name {
		case "id", "require", "secure_cookies", "track_connections":
			if len(args) != 1 {
				return d.ArgErr()
			}
			*map[string]*string{"id": &h.ID, "require": &h.Require, "secure_cookies": &h.SecureCookies, "track_connections": &h.TrackConnections}[name] = args[0]
		case "forward_credentials":
			if len(args) != 0 {
				return d.ArgErr()
			}
			h.ForwardCredentials = true
		case "session_lifetime":
			if len(args) != 1 {
				return d.ArgErr()
			}
			if args[0] == "off" {
				h.SessionLifetime = -1
				continue
			}
			dur, err := caddy.ParseDuration(args[0])
			if err != nil || dur <= 0 {
				return d.Errf("session_lifetime: %q is not a positive duration or off", args[0])
			}
			h.SessionLifetime = caddy.Duration(dur)
		case "passcode_page", "playback_tokens":
			if len(args) != 1 {
				return d.ArgErr()
			}
			on, err := parseOnOff(d, args[0])
			if err != nil {
				return err
			}
			*map[string]**bool{"passcode_page": &h.PasscodePage, "playback_tokens": &h.PlaybackTokens}[name] = &on
		case "throttle":
			if err := h.Throttle.unmarshal(d, args); err != nil {
				return err
			}
		case "identity_headers":
			if len(args) == 0 {
				return d.ArgErr()
			}
			// "all" is the default, which JSON says by leaving it out.
			h.IdentityHeaders = nil
			if len(args) != 1 || args[0] != "all" {
				h.IdentityHeaders = args
			}
		default:
			return d.Errf("unrecognized alias_auth subdirective %q", name)
		}
	}
	return nil
}

// UnmarshalCaddyfile reads the alias_hooks directive:
//
//	alias_hooks mediamtx|srs|nginx_rtmp|ome {
//		path_prefix    <prefix>                 # mediamtx
//		allow_actions  api|metrics|pprof ...    # mediamtx
//		secret         <value>                  # ome, required
//		api            <url>                    # mediamtx, srs
//		api_timeout    <duration>               # with api
//		sweep_interval <duration>               # mediamtx, with api
//		throttle       <failures> <window>|off
//	}
func (h *AliasHooks) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if !d.NextArg() {
		return d.Errf("alias_hooks needs the media server: mediamtx, srs, nginx_rtmp or ome")
	}
	h.Flavour = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		name := d.Val()
		args := d.RemainingArgs()
		switch name {
		case "path_prefix", "secret", "api":
			if len(args) != 1 {
				return d.ArgErr()
			}
			*map[string]*string{"path_prefix": &h.PathPrefix, "secret": &h.Secret, "api": &h.API}[name] = args[0]
		case "api_timeout", "sweep_interval":
			if len(args) != 1 {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(args[0])
			if err != nil || dur <= 0 {
				return d.Errf("%s: %q is not a positive duration", name, args[0])
			}
			*map[string]*caddy.Duration{"api_timeout": &h.APITimeout, "sweep_interval": &h.SweepInterval}[name] = caddy.Duration(dur)
		case "allow_actions":
			if len(args) == 0 {
				return d.ArgErr()
			}
			h.AllowActions = append(h.AllowActions, args...)
		case "throttle":
			if err := h.Throttle.unmarshal(d, args); err != nil {
				return err
			}
		default:
			return d.Errf("unrecognized alias_hooks subdirective %q", name)
		}
	}
	return nil
}

// UnmarshalCaddyfile reads the alias_console directive:
//
//	alias_console {
//		viewer_url  <template>|off
//		room_url    <template>|off
//		whip_url    <template>|off
//		rtmp_url    <template>|off
//		srt_url     <template>|off
//		preview_url <path template>|off
//		page_size   <aliases>
//	}
func (h *AliasConsole) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		name := d.Val()
		if !d.NextArg() {
			return d.ArgErr()
		}
		val := d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
		dst := map[string]*string{
			"viewer_url": &h.ViewerURL, "room_url": &h.RoomURL, "whip_url": &h.WHIPURL,
			"rtmp_url": &h.RTMPURL, "srt_url": &h.SRTURL, "preview_url": &h.PreviewURL,
		}[name]
		switch {
		case dst != nil:
			*dst = val
		case name == "page_size":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return d.Errf("page_size: %q is not a positive number", val)
			}
			h.PageSize = n
		default:
			return d.Errf("unrecognized alias_console subdirective %q", name)
		}
	}
	return nil
}

// UnmarshalCaddyfile reads the linkgate_health directive, which takes no
// argument and no block:
//
//	linkgate_health [<matcher>]
func (h *LinkgateHealth) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(0) {
		return d.Errf("linkgate_health takes no subdirectives, got %q", d.Val())
	}
	return nil
}

var (
	_ caddyfile.Unmarshaler = (*App)(nil)
	_ caddyfile.Unmarshaler = (*AliasAPI)(nil)
	_ caddyfile.Unmarshaler = (*AliasAuth)(nil)
	_ caddyfile.Unmarshaler = (*AliasHooks)(nil)
	_ caddyfile.Unmarshaler = (*AliasConsole)(nil)
	_ caddyfile.Unmarshaler = (*LinkgateHealth)(nil)
)
