package testcaddy

import (
	"os/exec"
	"syscall"
)

// DieWithTest has the kernel kill cmd when the test binary dies, so that a
// test killed by go test's timeout, whose Cleanups never run, leaves no
// process behind.
func DieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
