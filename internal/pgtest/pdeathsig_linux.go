package pgtest

import "syscall"

// setPdeathsig makes the kernel send postgres SIGQUIT (immediate shutdown,
// which also stops its backends) when the test binary dies without running
// its cleanup.
func setPdeathsig(attr *syscall.SysProcAttr) {
	attr.Pdeathsig = syscall.SIGQUIT
}
