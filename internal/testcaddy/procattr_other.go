//go:build !linux

package testcaddy

import "os/exec"

// DieWithTest does nothing where the kernel cannot kill a child with its
// parent; Cleanup still stops it.
func DieWithTest(*exec.Cmd) {}
