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
	if d, err := r.Driver("aws.ec2"); err != nil || d.Kind() != "aws.ec2" {
		t.Errorf("Driver(aws.ec2) = %v, %v; want the instance driver", d, err)
	}
	if _, err := r.Driver("gce"); err == nil || err.Error() != `no target driver for kind "gce" in this ferry (it has aws.ec2, install, ssh)` {
		t.Errorf("unknown kind: %v", err)
	}
	if _, err := target.NewRegistry(target.SSH{}, target.SSH{}); err == nil {
		t.Error("a kind registered twice is accepted")
	}
}

// TestInstancePower: an aws.ec2 target stops and starts its instance
// through Env.Power, naming the instance resource; without one, or where
// the command reaches no provider, it says what is wrong.
func TestInstancePower(t *testing.T) {
	d, err := target.Default().Driver("aws.ec2")
	if err != nil {
		t.Fatal(err)
	}
	ps, ok := d.(target.PowerSwitch)
	if !ok {
		t.Fatal("the aws.ec2 driver has no power switch")
	}
	var calls []string
	env := target.Env{Power: func(_ context.Context, resource, op string) error {
		calls = append(calls, op+" "+resource)
		return nil
	}}
	tg := plan.Target{Kind: "aws.ec2", Host: "127.1.1.4", Port: 22, User: "root", Resource: "aws.instance.web"}
	if err := ps.Stop(t.Context(), env, tg); err != nil {
		t.Fatal(err)
	}
	if err := ps.Start(t.Context(), env, tg); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"stop aws.instance.web", "start aws.instance.web"}, calls); d != "" {
		t.Errorf("power calls (-want +got):\n%s", d)
	}
	if err := ps.Stop(t.Context(), target.Env{}, tg); err == nil || !strings.Contains(err.Error(), "cannot reach providers") {
		t.Errorf("stop without providers: %v", err)
	}
	tg.Resource = ""
	if err := ps.Stop(t.Context(), env, tg); err == nil || !strings.Contains(err.Error(), "without its instance resource") {
		t.Errorf("stop without an instance: %v", err)
	}
	ep, err := d.Endpoint(t.Context(), env, plan.Target{Kind: "aws.ec2", Host: "127.1.1.4", Port: 22, User: "root", HostKey: "ssh-ed25519 AAAA"})
	if err != nil || ep.Host != "127.1.1.4" || ep.HostKey != "ssh-ed25519 AAAA" {
		t.Errorf("endpoint = %+v, %v; want the instance's address and pinned key", ep, err)
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
