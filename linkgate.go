// Package linkgate plugs linkgate's modules into Caddy, so that
// "xcaddy build --with github.com/linkgate/linkgate" works while the code
// lives in sub-packages.
package linkgate

import (
	_ "github.com/linkgate/linkgate/caddymodule"
)
