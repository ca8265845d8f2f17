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
		case "query_timeout", "jwt_leeway", "max_token_lifetime":
			dur, err := caddy.ParseDuration(val)
			if err != nil || dur <= 0 {
				return d.Errf("%s: %q is not a positive duration", name, val)
			}
			*map[string]*caddy.Duration{
				"query_timeout":      &a.QueryTimeout,
				"jwt_leeway":         &a.JWTLeeway,
				"max_token_lifetime": &a.MaxTokenLifetime,
			}[name] = caddy.Duration(dur)
		case "min_jwt_secret_length":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return d.Errf("min_jwt_secret_length: %q is not a positive number of bytes", val)
			}
			a.MinJWTSecretLength = n
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
