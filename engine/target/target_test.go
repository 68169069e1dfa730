package target_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/target"
	"github.com/nixferry/ferry/remote"
)

func TestRegistry(t *testing.T) {
	r := target.Default()
	for _, kind := range []string{"", "ssh"} {
		if d, err := r.Driver(kind); err != nil || d.Kind() != "ssh" {
			t.Errorf("Driver(%q) = %v, %v; want the ssh driver", kind, d, err)
		}
	}
	if _, err := r.Driver("aws.ec2"); err == nil || err.Error() != `no target driver for kind "aws.ec2" in this ferry (it has ssh)` {
		t.Errorf("unknown kind: %v", err)
	}
	if _, err := target.NewRegistry(target.SSH{}, target.SSH{}); err == nil {
		t.Error("a kind registered twice is accepted")
	}
}

func TestSSHEndpoint(t *testing.T) {
	in := plan.Target{Host: "10.0.0.5", Port: 2222, User: "deploy", HostKey: "ssh-ed25519 AAAA", Sudo: true,
		Jump: &plan.Target{Host: "bastion", Port: 22, User: "root"}}
	got, err := target.SSH{}.Endpoint(t.Context(), target.Env{}, in)
	if err != nil {
		t.Fatal(err)
	}
	want := remote.Target{Host: "10.0.0.5", Port: 2222, User: "deploy", HostKey: "ssh-ed25519 AAAA", Sudo: true,
		Jump: &remote.Target{Host: "bastion", Port: 22, User: "root"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("endpoint (-want +got):\n%s", d)
	}
	in.Jump.Refs = map[string]any{"host": spec.Ref{Addr: "fake.host.b", Attr: "host"}}
	if _, err := (target.SSH{}).Endpoint(t.Context(), target.Env{}, in); err == nil {
		t.Error("a target with unresolved references gives an endpoint")
	}
}

// TestSSHWaitTimesOut: nothing listens on the port; Wait gives up after
// its timeout, saying what it tried.
func TestSSHWaitTimesOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	d := remote.NewDialer(remote.Options{KeyFiles: []string{}, NoAgent: true, ConnectTimeout: time.Second})
	defer d.Close()
	start := time.Now()
	err = target.SSH{}.Wait(context.Background(), target.Env{SSH: d}, remote.Target{Host: "127.0.0.1", Port: port}, 1500*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "did not accept SSH connections within 1.5s (last attempt:") {
		t.Errorf("Wait: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Wait took %s after a timeout of 1.5s", took)
	}
}
