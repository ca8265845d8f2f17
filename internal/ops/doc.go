// Package ops tests what an operator runs: the built binary's health
// check, its admin API endpoints and its access log, the root Caddyfile
// with its ports from the environment, and the deployment files (the
// systemd unit, the Dockerfile, the JSON config example).
package ops
