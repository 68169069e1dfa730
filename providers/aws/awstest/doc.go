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
// and Env.Subnet a fresh /24 subnet in it per call (127.X.Y.0/24, Y from
// 1), so that instances launched into it get loopback addresses where test
// hosts can listen. X is the lowest second octet that no other region of
// the test and no other test process running now holds (a lock file per
// X under the temporary folder, dropped when the test ends or the process
// dies): packages tested in parallel never give two hosts one address.
//
// A Guard refuses any dial target outside the networks it allows, and it
// only ever allows loopback networks. Env.Guard allows exactly the subnets
// the bed made. Every SSH dial a test makes goes through one:
// Guard.Narrow puts it in front of a remote.Dialer (Options.DialContext
// for every connection, Options.CheckAddress for every address, jump
// hosts' onward dials included), refusing before any packet is sent. The
// guard lives in remote/dialguard so that the ferry binary under test can
// install it: Env.Environ passes its networks in GuardEnv, and the CLI
// narrows its Dialer to them when that variable is set.
//
// # Instances as test hosts
//
// Env.Watch starts the instance watcher of a test: every 100 ms it asks
// moto for the instances of the regions where the bed made subnets, and
// mirrors each instance whose private IP lies in one of them (never any
// other) onto a test host of remote/testhosts at PRIVATE_IP:22:
//
//   - running: the host starts with the ed25519 host key of the instance's
//     user data (lines SSH_HOST_ED25519_KEY:<the OpenSSH private key, "|"
//     for each newline> and SSH_HOST_ED25519_KEY_PUB:<public key>, as
//     NixOS's EC2 images read them; ParseUserDataHostKey, and
//     HostKeyUserData to write them) and the key pair's public key
//     (DescribeKeyPairs IncludePublicKey) as root's authorized key. Without
//     a usable key in the user data the host gets a new one, as a stock
//     image does, and Instance records it (GeneratedHostKey, UserDataErr);
//   - stopped: the host is halted, its /nix and /root kept; started again,
//     it boots with a new boot ID and a fresh /run;
//   - terminated: the host is removed.
//
// Tests wait for these events, never for time: Watcher.WaitUp returns once
// the host's sshd answers, WaitDown and WaitGone once it is halted or
// removed, Wait for any condition on Instance. The watcher and its hosts
// stop when the test ends; nothing is left running. A host's own reboot
// requests (the reboot protocol of remote/testhosts) are served as on any
// test host, without moto knowing.
//
//	env := awstest.New(t)
//	subnet := env.Subnet(t, env.Region)
//	w := env.Watch(t)
//	out, _ := env.EC2(env.Region).RunInstances(ctx, &ec2.RunInstancesInput{
//		SubnetId: aws.String(subnet.ID), KeyName: ..., UserData: ..., ...})
//	in, err := w.WaitUp(ctx, aws.ToString(out.Instances[0].InstanceId))
//	d := remote.NewDialer(env.Guard().Narrow(remote.Options{...}))
//	conn, err := d.Dial(ctx, in.Host.Target())
package awstest
