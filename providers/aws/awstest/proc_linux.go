package awstest

import "syscall"

// sysProcAttr binds moto_server to the test process: the kernel kills it
// when the test binary dies without stopping it (a -timeout panic, kill
// -9), so that no emulator outlives its tests.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
