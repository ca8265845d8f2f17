//go:build !linux

package pgtest

import "syscall"

// setPdeathsig does nothing where the kernel has no parent-death signal; there
// a server outlives a test binary that crashes, until it is stopped by hand.
func setPdeathsig(*syscall.SysProcAttr) {}
