package caddymodule

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("linkgate", parseGlobalOption)
	httpcaddyfile.RegisterHandlerDirective("alias_api", parseAliasAPI)
	// Before handle, so the API answers beside the handle blocks of the
	// routes it protects without a route block or an order option.
	httpcaddyfile.RegisterDirectiveOrder("alias_api", httpcaddyfile.Before, "handle")
	httpcaddyfile.RegisterHandlerDirective("alias_auth", parseAliasAuth)
	// With the other authentication handlers: after basic_auth, before
	// anything that would act on the request for the client.
	httpcaddyfile.RegisterDirectiveOrder("alias_auth", httpcaddyfile.After, "basic_auth")
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

// parseAliasAPI sets up the alias_api handler; it takes no arguments:
//
//	alias_api
func parseAliasAPI(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	h.Next() // the directive name
	if h.NextArg() {
		return nil, h.ArgErr()
	}
	if h.NextBlock(0) {
		return nil, h.Errf("unrecognized subdirective %q: alias_api takes none", h.Val())
	}
	return new(AliasAPI), nil
}

// parseAliasAuth sets up the alias_auth handler:
//
//	alias_auth live|conference {
//		id                  <placeholder>
//		require             viewer|publish|host
//		forward_credentials
//		session_lifetime    <duration>|off
//		passcode_page       on|off
//		throttle            <failures> <window>|off
//	}
func parseAliasAuth(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	a := new(AliasAuth)
	if err := a.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return a, nil
}

// UnmarshalCaddyfile reads the alias_auth directive; see parseAliasAuth.
func (a *AliasAuth) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if !d.NextArg() {
		return d.Errf("alias_auth needs the alias type: live or conference")
	}
	a.Type = d.Val()
	if a.Type != "live" && a.Type != "conference" {
		return d.Errf("alias_auth: type must be live or conference, not %q", a.Type)
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		name := d.Val()
		args := d.RemainingArgs()
		switch name {
		case "id":
			if len(args) != 1 {
				return d.ArgErr()
			}
			a.ID = args[0]
		case "require":
			if len(args) != 1 {
				return d.ArgErr()
			}
			if _, err := parseRequirement(args[0]); err != nil {
				return d.Err(err.Error())
			}
			a.Require = args[0]
		case "forward_credentials":
			if len(args) != 0 {
				return d.ArgErr()
			}
			a.ForwardCredentials = true
		case "session_lifetime":
			if len(args) != 1 {
				return d.ArgErr()
			}
			if args[0] == "off" {
				a.SessionLifetime = -1
				continue
			}
			dur, err := caddy.ParseDuration(args[0])
			if err != nil || dur <= 0 {
				return d.Errf("session_lifetime: %q is not a positive duration or off", args[0])
			}
			a.SessionLifetime = caddy.Duration(dur)
		case "passcode_page":
			if len(args) != 1 {
				return d.ArgErr()
			}
			on, err := parseOnOff(d, args[0])
			if err != nil {
				return err
			}
			a.PasscodePage = &on
		case "throttle":
			if err := a.Throttle.unmarshal(d, args); err != nil {
				return err
			}
		default:
			return d.Errf("unrecognized alias_auth subdirective %q", name)
		}
	}
	return nil
}
