package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEC2Day2: day-2 commands on an EC2 machine: info shows its instance
// (id, state, type, private IP), reboot brings it back with a new boot,
// a machine that is stopped shows as such, and plans leave it alone (a
// change to its system waits for `ferry start`).
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

	// A stopped machine whose system changed is shown as stopped and left
	// alone: apply does not try to reach it, and nothing fails.
	conf := filepath.Join(b.dir, "ferry.star")
	src, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte(strings.Replace(string(src), "ec2.example", "day2.example", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	planned := b.ferry(0, "", "plan", "--detailed-exitcode")
	for _, want := range []string{
		"# machine.web is stopped: its host aws.instance.web is stopped: apply leaves the machine alone; run `ferry start --on web` to start it, then plan again",
		"0 machines to deploy, 0 unchanged, 1 stopped.",
	} {
		if !strings.Contains(planned.stdout, want) {
			t.Errorf("plan of a stopped machine lacks %q:\n%s\n%s", want, planned.stdout, planned.stderr)
		}
	}
	if strings.Contains(planned.stderr, "not reachable") {
		t.Errorf("plan of a stopped machine warns that it is unreachable:\n%s", planned.stderr)
	}
	b.ferry(0, "", "apply", "--auto-approve")

	// A new instance type for the stopped instance: changed in place, no
	// downtime (it is down), and it stays stopped and left alone.
	planned = b.ferry(2, "", "plan", "--detailed-exitcode", "--var", "type=t3.small")
	if !strings.Contains(planned.stdout, "1 to change") || !strings.Contains(planned.stdout, "1 stopped.") || strings.Contains(planned.stdout, "downtime") {
		t.Errorf("plan of a new type for a stopped instance:\n%s\n%s", planned.stdout, planned.stderr)
	}
	b.ferry(0, "", "apply", "--auto-approve", "--var", "type=t3.small")
	if info := b.ferry(0, "", "info").stdout; !strings.Contains(info, id+" (stopped, t3.small)") {
		t.Errorf("info after the type change:\n%s", info)
	}
	b.lookup["FERRY_VAR_type"] = "t3.small"

	// Started again, the next plan deploys the change.
	b.ferry(0, "", "start")
	if _, err := b.watch.WaitUp(waitCtx(t), id); err != nil {
		t.Fatal(err)
	}
	if r := b.ferry(0, "", "apply", "--auto-approve"); !strings.Contains(r.stdout, "web: deployed") {
		t.Errorf("apply after start:\n%s\n%s", r.stdout, r.stderr)
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
