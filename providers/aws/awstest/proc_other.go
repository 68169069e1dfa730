//go:build !linux

package awstest

import "syscall"

// sysProcAttr: outside Linux there is no parent-death signal; Main stops
// the server.
func sysProcAttr() *syscall.SysProcAttr { return nil }
