// Package e2e holds end-to-end tests of the gateway through a real Caddy.
package e2e
