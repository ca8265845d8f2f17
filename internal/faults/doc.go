// Package faults holds the tests of linkgate under production faults: a
// PostgreSQL failover, a node killed under load, configuration reloads
// under load, and the embedded SQLite store killed while it writes. They
// run the binary built from cmd/caddy, as an operator runs it.
package faults
