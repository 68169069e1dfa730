package cli

import (
	"strings"
	"testing"
)

// TestEC2Day2: day-2 commands on an EC2 machine: info shows its instance
// (id, state, type, private IP), reboot brings it back with a new boot,
// and a machine that is stopped shows as such.
func TestEC2Day2(t *testing.T) {
	b := newAWSBed(t, ec2Config)
	b.ferry(0, "", "apply", "--auto-approve")
	id := b.instanceID("aws.instance.web")
	inst, err := b.watch.WaitUp(waitCtx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	info := b.ferry(0, "", "info").stdout
	want := "    instance:  " + id + " (running, t3.micro), private " + inst.Host.Addr + "\n"
	if !strings.Contains(info, want) || !strings.Contains(info, "status:    up to date") {
		t.Errorf("info lacks %q and up to date:\n%s", want, info)
	}

	boot := inst.Host
	r := b.ferry(0, "", "reboot", "--on", "web")
	if !strings.Contains(r.stdout, "web> back with a new boot") {
		t.Errorf("reboot:\n%s\n%s", r.stdout, r.stderr)
	}
	if sys, _ := boot.CurrentSystem(); sys == "" {
		t.Errorf("after the reboot the host runs no system")
	}

	b.ferry(0, "", "stop")
	info = b.ferry(0, "", "info").stdout
	if !strings.Contains(info, id+" (stopped, t3.micro)") || !strings.Contains(info, "unreachable") {
		t.Errorf("info of a stopped machine:\n%s", info)
	}
}

// TestEC2Unreachable: a new instance that never accepts SSH (here: in the
// default VPC, whose invented address the dial guard refuses) fails its
// machine after --reach-timeout, naming the instance and where to look;
// the other machine is deployed.
func TestEC2Unreachable(t *testing.T) {
	b := newAWSBed(t, ec2Config+`
machine("lost", target = aws.ec2(instance_type = "t3.micro", key_pair = kp, connect = "private"), modules = [nix.inline("{ }")])
`)
	r := b.ferry(1, "", "apply", "--auto-approve", "--reach-timeout", "2s")
	all := r.stdout + r.stderr
	lost := b.instanceID("aws.instance.lost")
	for _, want := range []string{
		"wait for the new host",
		"its host is aws.instance.lost (instance " + lost + ")",
		"aws ec2 get-console-output --instance-id " + lost,
		"web: deployed",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("apply lacks %q:\n%s", want, all)
		}
	}
}
