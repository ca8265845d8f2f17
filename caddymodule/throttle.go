package caddymodule

import (
	"fmt"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/linkgate/linkgate/gate"
)

// limiters holds the failure tables across reloads, one per setting, so a
// reload neither forgets who was guessing nor allocates a new table.
var limiters = caddy.NewUsagePool()

type limiterHandle struct {
	*gate.Limiter
}

func (*limiterHandle) Destruct() error { return nil }

// Throttle is the brute-force protection of alias_auth, alias_api and
// alias_hooks. Handlers with the same setting share one failure table, so
// a guesser gains nothing by switching from the gateway to the API or to a
// media server's protocol.
type Throttle struct {
	// FailureLimit is how many failed credentials a client may send for an
	// alias within FailureWindow before it is refused with 429 (default
	// 10; a negative value turns throttling off).
	FailureLimit int `json:"failure_limit,omitempty"`

	// FailureWindow is the span failures are counted over (default 1m).
	FailureWindow caddy.Duration `json:"failure_window,omitempty"`

	key string
}

// provision takes the failure table of the setting; nil when throttling
// is off.
func (t *Throttle) provision(app *App) (*gate.Limiter, error) {
	if t.FailureLimit == 0 {
		t.FailureLimit = gate.DefaultFailureLimit
	}
	if t.FailureWindow <= 0 {
		t.FailureWindow = caddy.Duration(gate.DefaultFailureWindow)
	}
	if t.FailureLimit < 0 {
		return nil, nil
	}
	window := time.Duration(t.FailureWindow)
	key := fmt.Sprintf("%d/%s/%d", t.FailureLimit, window, app.ThrottleCapacity)
	v, _, err := limiters.LoadOrNew(key, func() (caddy.Destructor, error) {
		return &limiterHandle{gate.NewLimiter(t.FailureLimit, window, app.ThrottleCapacity)}, nil
	})
	if err != nil {
		return nil, err
	}
	t.key = key
	return v.(*limiterHandle).Limiter, nil
}

// validate checks the setting.
func (t *Throttle) validate() error {
	if t.FailureLimit >= 0 && t.FailureWindow != 0 && time.Duration(t.FailureWindow) < time.Second {
		return fmt.Errorf("throttle: the failure window must be at least 1s, not %s", time.Duration(t.FailureWindow))
	}
	return nil
}

// cleanup releases what provision took.
func (t *Throttle) cleanup() error {
	if t.key == "" {
		return nil
	}
	_, err := limiters.Delete(t.key)
	t.key = ""
	return err
}

// unmarshal reads the arguments of the throttle subdirective:
//
//	throttle <failures> <window>|off
func (t *Throttle) unmarshal(d *caddyfile.Dispenser, args []string) error {
	switch {
	case len(args) == 1 && args[0] == "off":
		t.FailureLimit = -1
	case len(args) == 2:
		// 0 would read as "the default" in JSON: only positive numbers
		// say what they mean.
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 1 {
			return d.Errf("throttle: %q is not a positive number of failures", args[0])
		}
		dur, err := caddy.ParseDuration(args[1])
		if err != nil {
			return d.Errf("throttle: %q is not a duration", args[1])
		}
		t.FailureLimit, t.FailureWindow = n, caddy.Duration(dur)
	default:
		return d.ArgErr()
	}
	return nil
}
