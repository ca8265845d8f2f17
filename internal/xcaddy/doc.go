// Package xcaddy checks that the command in xcaddy.txt builds a Caddy that
// holds linkgate's modules, with xcaddy from the Go module proxy.
package xcaddy
