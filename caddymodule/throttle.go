package caddymodule

import (
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/linkgate/linkgate/aliasapi"
)

// Throttle is the brute-force protection of alias_auth and alias_hooks.
// Handlers with the same setting share one failure table, so a guesser
// gains nothing by switching from HTTP to a media server's protocol.
type Throttle struct {
	// FailureLimit is how many failed credentials a client may send for an
	// alias within FailureWindow before it is refused with 429 (default
	// 10; a negative value turns throttling off).
	FailureLimit int `json:"failure_limit,omitempty"`

	// FailureWindow is the span failures are counted over (default 1m).
	FailureWindow caddy.Duration `json:"failure_window,omitempty"`

	limiter *limiterHandle
}

// provision takes the failure table of the setting from the app; nil when
// throttling is off.
func (t *Throttle) provision(app *App) (*aliasapi.Limiter, error) {
	if t.FailureLimit == 0 {
		t.FailureLimit = aliasapi.DefaultFailureLimit
	}
	if t.FailureWindow <= 0 {
		t.FailureWindow = caddy.Duration(aliasapi.DefaultFailureWindow)
	}
	if t.FailureLimit < 0 {
		return nil, nil
	}
	var err error
	t.limiter, err = app.limiter(t.FailureLimit, time.Duration(t.FailureWindow))
	if err != nil {
		return nil, err
	}
	return t.limiter.Limiter, nil
}

// cleanup releases what provision took.
func (t *Throttle) cleanup() error {
	if t.limiter == nil {
		return nil
	}
	return t.limiter.release()
}

// unmarshal reads the arguments of the throttle subdirective:
//
//	throttle <failures> <window>|off
func (t *Throttle) unmarshal(d *caddyfile.Dispenser, args []string) error {
	switch {
	case len(args) == 1 && args[0] == "off":
		t.FailureLimit = -1
	case len(args) == 2:
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 1 {
			return d.Errf("throttle: %q is not a positive number of failures", args[0])
		}
		dur, err := caddy.ParseDuration(args[1])
		if err != nil || dur < time.Second {
			return d.Errf("throttle: %q is not a duration of at least 1s", args[1])
		}
		t.FailureLimit, t.FailureWindow = n, caddy.Duration(dur)
	default:
		return d.ArgErr()
	}
	return nil
}
