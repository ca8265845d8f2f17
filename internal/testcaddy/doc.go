// Package testcaddy is what linkgate's tests share to run the real Caddy: free ports, loading a Caddyfile, organizations and tokens, polling.
//
// It registers no Caddy module: a test package imports the modules its
// Caddyfiles use (modules/standard, linkgate's caddymodule) itself, so
// that caddymodule's own in-package tests could use this package too.
package testcaddy
