package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/nixferry/ferry/providers/aws/awstest"
	"github.com/nixferry/ferry/providers/nix/nixtest"
	"github.com/nixferry/ferry/remote/dialguard"
	"github.com/nixferry/ferry/remote/testhosts"
)

// TestMain points ferry at no SSH client configuration: tests never read
// the real ~/.ssh/config (those of sshconfig_test.go pass their own).
func TestMain(m *testing.M) {
	os.Setenv("FERRY_SSH_CONFIG", sshConfigNone)
	os.Exit(awstest.Main(m))
}

// ec2Config is a NixOS machine on EC2 (moto): a key pair from the test's
// client key, a security group for SSH, and the machine's instance in a
// loopback subnet of the test bed, reached at its private address.
const ec2Config = `deployment(name = "ec2")
aws.provider(region = var("region"), endpoint = var("endpoint"))
kp = aws.key_pair("deploy", public_key = var("pubkey"))
ssh_sg = aws.security_group("ssh", vpc_id = var("vpc"), ingress = [{"protocol": "tcp", "port": 22, "cidr_blocks": ["0.0.0.0/0"]}])
web = machine("web",
    target = aws.ec2(instance_type = var("type", default = "t3.micro"), key_pair = kp, security_groups = [ssh_sg],
                     subnet = var("subnet"), connect = "private"),
    modules = [nix.inline("{ networking.domain = \"ec2.example\"; }")])
`

// awsBed is one test's moto test bed with its instance watcher, and a
// ferry runner whose environment points the aws provider at moto and
// guards every dial.
type awsBed struct {
	t      testing.TB
	env    *awstest.Env
	watch  *awstest.Watcher
	dir    string
	lookup map[string]string
	// pubkey is the public key of the client key ferry logs in with.
	pubkey string
}

func newAWSBed(t testing.TB, config string) *awsBed {
	t.Helper()
	return newAWSBedFiles(t, map[string][]byte{"ferry.star": []byte(config)})
}

// newAWSBedFiles is newAWSBed with a configuration of several files (by
// slash-separated path in the configuration's folder).
func newAWSBedFiles(t testing.TB, files map[string][]byte) *awsBed {
	t.Helper()
	nixtest.RequireNix(t)
	env := awstest.New(t)
	sub := env.Subnet(t, env.Region)
	w := env.Watch(t)
	dir := t.TempDir()
	client, err := testhosts.NewKey("ferry-test")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(keyFile, client.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b := &awsBed{t: t, env: env, watch: w, dir: dir, pubkey: client.Public, lookup: map[string]string{
		"NIX_PATH":           "nixpkgs=" + nixtest.NixpkgsPath(),
		"NIX_CONFIG":         "substituters =\nsandbox = false",
		"FERRY_SSH_KEY":      keyFile,
		"SSH_AUTH_SOCK":      "",
		"FERRY_STATE":        "file://" + filepath.Join(dir, ".ferry"),
		"NO_COLOR":           "1",
		dialguard.Env:        env.Guard().String(),
		"FERRY_VAR_region":   env.Region,
		"FERRY_VAR_endpoint": env.URL,
		"FERRY_VAR_pubkey":   client.Public,
		"FERRY_VAR_vpc":      sub.VPC,
		"FERRY_VAR_subnet":   sub.ID,
	}}
	for k, v := range b.lookup {
		t.Setenv(k, v) // Nix and the AWS SDK read the process environment
	}
	return b
}

// ferry runs ferry in the bed's configuration and fails the test unless it
// exits with want.
func (b *awsBed) ferry(want int, stdin string, args ...string) ferryRun {
	b.t.Helper()
	var out, errOut bytes.Buffer
	lookup := func(k string) (string, bool) {
		if v, ok := b.lookup[k]; ok {
			return v, true
		}
		return os.LookupEnv(k)
	}
	code := Main(context.Background(), append([]string{"-C", b.dir}, args...), IO{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut, LookupEnv: lookup})
	r := ferryRun{code: code, stdout: out.String(), stderr: errOut.String()}
	if code != want {
		b.t.Fatalf("ferry %s: exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, r.stdout, r.stderr)
	}
	return r
}

// instanceID is the id ferry recorded for resource addr.
func (b *awsBed) instanceID(addr string) string {
	b.t.Helper()
	out := b.ferry(0, "", "state", "show", addr).stdout
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok && strings.TrimSpace(k) == "id" {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	b.t.Fatalf("ferry state show %s has no id:\n%s", addr, out)
	return ""
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestEC2Machine: a NixOS machine on EC2, end to end on moto. The plan
// shows the instance to create and the machine's address and host key as
// known after apply; apply creates the key pair, the group and the
// instance (with the host key ferry generated in its user data), pins that
// key before the first login, and deploys the system, which the host then
// runs; the next plan is empty; an instance_type change stops, modifies
// and starts the instance, which boots again with its system; stop and
// start go through the API; destroy forgets the machine, then terminates
// the instance and deletes the rest.
func TestEC2Machine(t *testing.T) {
	b := newAWSBed(t, ec2Config)

	p := b.ferry(0, "", "plan", "--out", "plan.json").stdout
	for _, want := range []string{
		"# aws.instance.web will be created",
		"# machine.web will be deployed",
		"host = aws.instance.web.private_ip (known after apply)",
		"aws.instance.web.host_key (known after apply), pinned before the first login",
	} {
		if !strings.Contains(p, want) {
			t.Errorf("plan lacks %q:\n%s", want, p)
		}
	}
	applied := b.ferry(0, "", "apply", "plan.json").stdout
	if !strings.Contains(applied, "Machines: 1 deployed") {
		t.Errorf("apply:\n%s", applied)
	}
	id := b.instanceID("aws.instance.web")
	inst, err := b.watch.WaitUp(waitCtx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	if inst.GeneratedHostKey {
		t.Errorf("the instance's host got no host key from its user data: %v", inst.UserDataErr)
	}
	sys, err := inst.Host.CurrentSystem()
	if err != nil || sys == "" {
		t.Fatalf("the instance runs no system after apply: %q, %v\n%s", sys, err, applied)
	}
	st := b.ferry(0, "", "state", "show", "machine.web").stdout
	if !strings.Contains(st, strings.Fields(inst.HostKey)[1]) {
		t.Errorf("state does not pin the host key of the user data %q:\n%s", inst.HostKey, st)
	}
	if out := b.ferry(0, "", "plan").stdout; !strings.Contains(out, "No changes.") {
		t.Errorf("plan after apply:\n%s", out)
	}

	// A type change: stop, modify, start; the host runs the same system.
	// (moto changes states at once, so the watcher may not see the stop:
	// the provider's TestInstanceTypeChange holds the calls to the order.)
	b.lookup["FERRY_VAR_type"] = "t3.small"
	p = b.ferry(0, "", "plan", "--out", "plan.json").stdout
	if !strings.Contains(p, "aws.instance.web will be updated in place with downtime: stops the instance") {
		t.Errorf("plan of a type change:\n%s", p)
	}
	b.ferry(0, "", "apply", "plan.json")
	out, err := b.env.EC2(b.env.Region).DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Reservations[0].Instances[0].InstanceType; got != "t3.small" {
		t.Errorf("instance type after the change: %s, want t3.small", got)
	}
	if inst, err = b.watch.WaitUp(waitCtx(t), id); err != nil {
		t.Fatal(err)
	}
	if now, _ := inst.Host.CurrentSystem(); now != sys {
		t.Errorf("after the type change the host runs %q, want %q", now, sys)
	}
	if out := b.ferry(0, "", "plan").stdout; !strings.Contains(out, "No changes.") {
		t.Errorf("plan after the type change:\n%s", out)
	}

	// stop and start.
	if out := b.ferry(0, "", "stop").stdout; !strings.Contains(out, "web> stopped (aws.instance.web)") {
		t.Errorf("stop:\n%s", out)
	}
	if _, err := b.watch.WaitDown(waitCtx(t), id); err != nil {
		t.Fatal(err)
	}
	if out := b.ferry(0, "", "start").stdout; !strings.Contains(out, "web> running (aws.instance.web)") || !strings.Contains(out, "web> reachable") {
		t.Errorf("start:\n%s", out)
	}

	destroyed := b.ferry(0, "", "destroy", "--auto-approve").stdout
	for _, pair := range [][2]string{
		{"machine.web: forgotten", "aws.instance.web: destroyed"},
		{"aws.instance.web: destroyed", "aws.security_group.ssh: destroyed"},
		{"aws.instance.web: destroyed", "aws.key_pair.deploy: destroyed"},
	} {
		i, j := strings.Index(destroyed, pair[0]), strings.Index(destroyed, pair[1])
		if i < 0 || j < 0 || i > j {
			t.Errorf("destroy: %q should come before %q:\n%s", pair[0], pair[1], destroyed)
		}
	}
	if _, err := b.watch.WaitGone(waitCtx(t), id); err != nil {
		t.Fatal(err)
	}
}
