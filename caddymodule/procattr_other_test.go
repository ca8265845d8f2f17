//go:build !linux

package caddymodule_test

import "os/exec"

// dieWithTest does nothing where the kernel cannot tie a child's life to
// its parent's; Cleanup still kills the server when the test ends normally.
func dieWithTest(*exec.Cmd) {}
