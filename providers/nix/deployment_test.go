package nix

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nixferry/ferry/providers/nix/nixtest"
)

// TestEvaluateDeploymentOptions: modules written for NixOps and Colmena set
// deployment.* and evaluate unchanged; evaluation reports the values back,
// key texts included (in memory only) and unset values left zero.
func TestEvaluateDeploymentOptions(t *testing.T) {
	n := testNix(t)
	got, err := n.Evaluate(context.Background(), EvalOptions{
		Nixpkgs: nixtest.NixpkgsPath(),
		Machines: []Machine{
			{Name: "web", Modules: []Module{{Inline: `{ config, ... }: {
  deployment.targetHost = "10.0.0.7";
  deployment.targetPort = 2222;
  deployment.targetUser = "deploy";
  deployment.tags = [ "web" "prod" ];
  deployment.hasFastConnection = true;
  deployment.alwaysActivate = true;
  deployment.keys.session = { text = "s3cret"; user = "nginx"; permissions = "0400"; };
  deployment.keys.tls.keyFile = /etc/hostname;
  services.nginx.enable = true;
  systemd.services.nginx = { after = [ "session-key.service" ]; wants = [ "session-key.service" ]; };
}`}}},
			{Name: "plain", Modules: []Module{{Inline: "{ deployment.targetEnv = \"none\"; }"}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*Deployment{
		"web": {TargetHost: "10.0.0.7", TargetPort: 2222, TargetUser: "deploy", Tags: []string{"web", "prod"},
			HasFastConnection: true, AlwaysActivate: true, Keys: map[string]Key{
				"session": {Text: "s3cret", HasText: true, DestDir: "/run/keys", User: "nginx", Group: "root", Permissions: "0400", UploadAt: "pre-activation"},
				"tls":     {KeyFile: "/etc/hostname", DestDir: "/run/keys", User: "root", Group: "root", Permissions: "0600", UploadAt: "pre-activation"},
			}},
		"plain": {}, // alwaysActivate defaults to false (NixOps's true would activate every unchanged machine)
	}
	for name, w := range want {
		if diff := cmp.Diff(w, got[name].Deployment); diff != "" {
			t.Errorf("%s: deployment (-want +got):\n%s", name, diff)
		}
	}
}

// TestEvaluateUnsupportedTargetEnv: a NixOps backend ferry does not deploy
// to fails its machine, naming the machine and the targetEnv.
func TestEvaluateUnsupportedTargetEnv(t *testing.T) {
	n := testNix(t)
	_, err := n.Evaluate(context.Background(), EvalOptions{
		Nixpkgs:  nixtest.NixpkgsPath(),
		Machines: []Machine{{Name: "db", Modules: []Module{{Inline: `{ deployment.targetEnv = "ec2"; deployment.ec2.region = "eu-west-1"; }`}}}},
	})
	var me *MachineError
	if !errors.As(err, &me) || me.Machine != "db" {
		t.Fatalf("want the evaluation error of machine db, got %v", err)
	}
	for _, part := range []string{`machine db: deployment.targetEnv = "ec2"`, "ferry deploys to existing hosts"} {
		if !strings.Contains(me.Message, part) {
			t.Errorf("message %q lacks %q", me.Message, part)
		}
	}
}
