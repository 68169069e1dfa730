package awstest_test

import (
	"context"
	"encoding/base64"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"golang.org/x/crypto/ssh"

	"github.com/nixferry/ferry/providers/aws/awstest"
	"github.com/nixferry/ferry/remote"
	"github.com/nixferry/ferry/remote/testhosts"
)

// testAMI is an image moto knows.
const testAMI = "ami-12c6146b"

// newHostKey returns a new ed25519 key in OpenSSH form and its public key
// in authorized_keys form.
func newHostKey(t *testing.T) ([]byte, string) {
	t.Helper()
	k, err := testhosts.NewKey("root@test")
	if err != nil {
		t.Fatal(err)
	}
	return k.PEM, k.Public
}

// waitCtx bounds a wait: it turns a hang into a failure, generously for a
// loaded machine; nothing waits on time.
func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestWatcherMirrorsAnInstance: an instance launched into a bed subnet
// with a host key in its user data and a key pair becomes a test host at
// its private IP, port 22, that presents that host key and lets the key
// pair's private key log in as root; stopping it halts the host, keeping
// its /nix; starting it boots the host with a new boot ID; terminating it
// removes the host. An instance outside the bed's subnets never gets one.
func TestWatcherMirrorsAnInstance(t *testing.T) {
	env := awstest.New(t)
	subnet := env.Subnet(t, env.Region)
	w := env.Watch(t)
	c := env.EC2(env.Region)
	ctx := waitCtx(t)

	kp, err := c.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("ferry-test"), KeyType: types.KeyTypeEd25519})
	if err != nil {
		t.Fatalf("CreateKeyPair: %v", err)
	}
	client, err := ssh.ParsePrivateKey([]byte(aws.ToString(kp.KeyMaterial)))
	if err != nil {
		t.Fatalf("the key pair's private key: %v", err)
	}
	hostKey, hostPub := newHostKey(t)
	userData := "#!/bin/sh\nFOO=bar\n" + awstest.HostKeyUserData(hostKey, hostPub) + "BAZ=1\n"

	// Outside the bed: moto's own 172.31.x address, never a host.
	outside, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(testAMI), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		KeyName: kp.KeyName, UserData: aws.String(base64.StdEncoding.EncodeToString([]byte(userData)))})
	if err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	launched := time.Now()
	run, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(testAMI), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		SubnetId: aws.String(subnet.ID), KeyName: kp.KeyName, UserData: aws.String(base64.StdEncoding.EncodeToString([]byte(userData)))})
	if err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	ip := aws.ToString(run.Instances[0].PrivateIpAddress)

	in, err := w.WaitUp(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("host of %s up at %s:22 %s after RunInstances", id, ip, time.Since(launched).Round(time.Millisecond))
	if in.Host.Addr != ip || in.Host.Port != 22 || in.HostKey != hostPub || in.GeneratedHostKey || in.Boots != 1 {
		t.Fatalf("instance %s at %s: %+v, want a host at %s:22 with the user data's key %s", id, ip, in, ip, hostPub)
	}
	if _, ok := w.Instance(aws.ToString(outside.Instances[0].InstanceId)); ok {
		t.Errorf("the instance outside the bed's subnets (%s) got a host", aws.ToString(outside.Instances[0].PrivateIpAddress))
	}

	// Log in with the key pair, trusting the key on first use: the host
	// presents the user data's key.
	d := remote.NewDialer(env.Guard().Narrow(remote.Options{Signers: []ssh.Signer{client}, KeyFiles: []string{}, NoAgent: true}))
	defer d.Close()
	target := remote.Target{Host: ip}
	output := func(cmd string) (string, error) {
		conn, closeConn, err := d.DialFresh(ctx, target)
		if err != nil {
			return "", err
		}
		defer closeConn()
		out, err := conn.Output(ctx, cmd)
		return strings.TrimSpace(out), err
	}
	got, err := output("whoami; hostname; cat /proc/sys/kernel/random/boot_id; echo disk > /nix/kept")
	if err != nil {
		t.Fatal(err)
	}
	if want := "root\n" + id + "\n" + in.BootID; got != want {
		t.Errorf("whoami, hostname, boot ID: %q, want %q", got, want)
	}
	if seen := d.HostKeys()[target.Address()]; seen != hostPub {
		t.Errorf("the host presented %q, want the user data's key %q", seen, hostPub)
	}
	// Through the host as a jump host, moto's addresses stay out of reach.
	for _, addr := range []string{"10.0.0.5", "54.214.1.1", aws.ToString(outside.Instances[0].PrivateIpAddress)} {
		jumped := remote.Target{Host: addr, Jump: &remote.Target{Host: ip, HostKey: hostPub}}
		if _, err := d.Dial(ctx, jumped); err == nil || !strings.Contains(err.Error(), "dial guard: refusing to dial") {
			t.Errorf("dial %s: %v, want the dial guard's refusal", jumped, err)
		}
	}

	if _, err := c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatalf("StopInstances: %v", err)
	}
	if _, err := w.WaitDown(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := output("true"); err == nil {
		t.Error("the stopped instance's host answers")
	}
	if _, err := c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatalf("StartInstances: %v", err)
	}
	in2, err := w.WaitUp(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	got, err = output("cat /proc/sys/kernel/random/boot_id /nix/kept")
	if err != nil {
		t.Fatal(err)
	}
	if want := in2.BootID + "\ndisk"; got != want || in2.BootID == in.BootID || in2.Boots != 2 {
		t.Errorf("after stop and start: %q (boots %d), want a new boot ID and /nix kept: %q (boot ID before %s)", got, in2.Boots, want, in.BootID)
	}

	if _, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatalf("TerminateInstances: %v", err)
	}
	if _, err := w.WaitGone(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := output("true"); err == nil {
		t.Error("the terminated instance's host answers")
	}
	if _, err := os.Stat(in.Host.Root); !os.IsNotExist(err) {
		t.Errorf("the terminated instance's host folder %s: %v, want it gone", in.Host.Root, err)
	}
}

// TestWatcherStockImage: an instance without a usable host key in its
// user data gets a new one, recorded by the watcher, as a stock cloud
// image makes its own; without a key pair nobody logs in.
func TestWatcherStockImage(t *testing.T) {
	env := awstest.New(t)
	subnet := env.Subnet(t, env.Region)
	w := env.Watch(t)
	c := env.EC2(env.Region)
	ctx := waitCtx(t)

	for _, tt := range []struct {
		name, userData string
		wantErr        string
	}{
		{"no user data", "", ""},
		{"other user data", "#cloud-config\n", ""},
		{"a broken key", "SSH_HOST_ED25519_KEY:-----BEGIN OPENSSH PRIVATE KEY-----|nonsense|\n", "SSH_HOST_ED25519_KEY"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := &ec2.RunInstancesInput{ImageId: aws.String(testAMI), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(subnet.ID)}
			if tt.userData != "" {
				in.UserData = aws.String(base64.StdEncoding.EncodeToString([]byte(tt.userData)))
			}
			run, err := c.RunInstances(ctx, in)
			if err != nil {
				t.Fatalf("RunInstances: %v", err)
			}
			inst, err := w.WaitUp(ctx, aws.ToString(run.Instances[0].InstanceId))
			if err != nil {
				t.Fatal(err)
			}
			if !inst.GeneratedHostKey || inst.HostKey == "" {
				t.Errorf("%+v, want a generated host key", inst)
			}
			if (inst.UserDataErr == nil) != (tt.wantErr == "") || (inst.UserDataErr != nil && !strings.Contains(inst.UserDataErr.Error(), tt.wantErr)) {
				t.Errorf("UserDataErr = %v, want one mentioning %q", inst.UserDataErr, tt.wantErr)
			}
			stranger, err := testhosts.NewKey("stranger")
			if err != nil {
				t.Fatal(err)
			}
			d := remote.NewDialer(env.Guard().Narrow(remote.Options{KeyFiles: []string{}, NoAgent: true, Signers: []ssh.Signer{stranger.Signer}}))
			defer d.Close()
			key, err := d.ScanHostKey(ctx, inst.Host.Target())
			if err != nil || key != inst.HostKey {
				t.Errorf("the host presents %q (%v), want the recorded %q", key, err, inst.HostKey)
			}
			if _, err := d.Dial(ctx, inst.Host.Target()); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
				t.Errorf("login to an instance without a key pair: %v, want it refused", err)
			}
		})
	}
}
