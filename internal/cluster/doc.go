// Package cluster holds the tests of linkgate running as several nodes on one database.
package cluster
