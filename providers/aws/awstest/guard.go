package awstest

import (
	"net/netip"

	"github.com/nixferry/ferry/remote/dialguard"
)

// GuardEnv names the environment variable that carries a Guard's networks
// to a ferry subprocess, whose CLI installs the guard on its SSH Dialer.
const GuardEnv = dialguard.Env

// Guard refuses every dial target outside the loopback networks it
// allows (see package remote/dialguard, where it lives so that the ferry
// binary under test can install it). Guard.Narrow puts it in front of a
// remote.Dialer.
type Guard = dialguard.Guard

// NewGuard returns a guard that allows prefixes, which must be loopback.
func NewGuard(prefixes ...netip.Prefix) (*Guard, error) { return dialguard.New(prefixes...) }

// ParseGuard reads a guard from Guard.String's form; "" allows nothing.
func ParseGuard(s string) (*Guard, error) { return dialguard.Parse(s) }
