package cli

import (
	"github.com/nixferry/ferry/remote"
	"github.com/nixferry/ferry/remote/dialguard"
)

// dialerOptions returns o with the SSH client configuration's identity
// files (sshconfig.go), narrowed by the dial guard that ferry's own
// tests set in the environment (dialguard.Env, FERRY_TEST_DIAL_ALLOW: a
// few loopback networks), and o itself when it is not set. This is the
// only production code that reads a test variable, and it only ever
// narrows what ferry can dial: a guard allows nothing outside
// 127.0.0.0/8, and a malformed one stops the command rather than being
// ignored.
func (a *App) dialerOptions(o remote.Options) (remote.Options, error) {
	o.ConfigKeyFiles = a.sshIdentities
	if a.LookupEnv == nil {
		return o, nil
	}
	g, err := dialguard.FromEnv(a.LookupEnv)
	if err != nil || g == nil {
		return o, err
	}
	return g.Narrow(o), nil
}
