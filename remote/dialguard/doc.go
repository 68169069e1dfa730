// Package dialguard narrows what a remote.Dialer may dial to a few
// loopback networks. It exists for ferry's tests: the AWS test bed
// (providers/aws/awstest) runs cloud instances as test hosts on loopback
// subnets, and the emulator it runs on invents public and private
// addresses that belong to someone else and must never be dialled.
//
// A Guard allows only networks inside 127.0.0.0/8, none until told, and
// refuses every other address before any packet is sent. Narrow installs
// it on a remote.Options (DialContext and CheckAddress). String, Parse and
// the environment variable Env carry a guard to a ferry subprocess, whose
// CLI installs it when Env is set (FromEnv).
//
// It must only ever narrow what can be dialled: nothing here may widen a
// Dialer's reach, resolve a host name, or open a connection the guard did
// not check.
package dialguard
