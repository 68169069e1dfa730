// Package awstest is the AWS test bed: moto, the AWS emulator, in server
// mode on 127.0.0.1, and SDK clients pointed at it. It is a test helper:
// production code must not import it.
//
// A test package that uses it runs one moto_server for all its tests:
//
//	func TestMain(m *testing.M) { os.Exit(awstest.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		env := awstest.New(t) // moto started on first use, reset for this test
//		subnet := env.Subnet(t, env.Region)
//		...
//	}
//
// Main starts nothing: the first New starts moto_server on a free port of
// 127.0.0.1 (ready once GET /moto-api/ answers); Main stops it by its PID
// after the last test. The process is also bound to the test process
// (Linux parent-death signal), so a test binary that dies (a -timeout
// panic, kill -9) does not leave it running. New resets moto (POST
// /moto-api/reset) and holds the bed until the test ends, so tests that use
// it never overlap (t.Parallel tests wait their turn): call New once per
// top-level test, never in a sub-test of a test that holds it.
//
// moto comes from a Python venv, pinned to MotoVersion, in VenvDir
// (the user cache folder, or $FERRY_MOTO_VENV), which
// remote/testhosts/install-deps.sh creates (go tool task deps). When it is
// missing New fails the test with that command: the tests never skip.
//
// New sets static test credentials in the environment (AWS_ACCESS_KEY_ID
// and friends), points the shared config files at an empty folder and
// turns the EC2 instance metadata client off, so that nothing reads the
// developer's real AWS configuration and nothing leaves this machine.
// Env.Environ gives the same settings to a ferry subprocess.
//
// # Images
//
// moto knows its own images and NixOSImages, fake NixOS images owned by
// the NixOS project's account (NixOSOwner), for the AMI lookups of
// aws.instance.
//
// # Addresses
//
// moto invents addresses: public 54.x.x.x ones and private 10.x or
// 172.31.x ones in the default VPC, random 127.x.y.z elastic IPs. None of
// them may ever be dialled. Env.VPC creates a VPC 127.X.0.0/16 per region
// (X = 0 for the first region of a test, 1 for the next, ...), and
// Env.Subnet a fresh /24 subnet in it per call (127.X.Y.0/24, Y from 1:
// 127.0.0.0/24 stays free for the plain test hosts of remote/testhosts),
// so that instances launched into it get loopback addresses where test
// hosts can listen.
//
// A Guard refuses any dial target outside the networks it allows, and it
// only ever allows loopback networks. Env.Guard allows exactly the subnets
// the bed made. Every SSH dial a test makes goes through one: its Check
// takes a host or host:port; its DialContext has net.Dialer's signature,
// so that it can stand in for the TCP dial of remote.Dialer; String and
// ParseGuard carry it to a ferry subprocess in one environment variable
// (GuardEnv). See Guard.
package awstest
