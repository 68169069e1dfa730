package aws_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"golang.org/x/crypto/ssh"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/aws"
	"github.com/nixferry/ferry/providers/aws/awstest"
	"github.com/nixferry/ferry/providers/checked"
)

// machine returns the arguments of a small NixOS instance in subnet.
func machine(subnet awstest.Subnet, extra map[string]any) map[string]any {
	args := map[string]any{"nixos_release": "25.11", "instance_type": "t3.micro", "subnet_id": subnet.ID}
	for k, v := range extra {
		args[k] = v
	}
	return args
}

// describe returns the instance as EC2 has it.
func describe(t *testing.T, env *awstest.Env, id string) types.Instance {
	t.Helper()
	out, err := env.EC2(env.Region).DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil || len(out.Reservations) == 0 {
		t.Fatalf("describe %s: %v", id, err)
	}
	return out.Reservations[0].Instances[0]
}

// TestInstanceTypeChange: a type change of a running instance is an
// update with downtime; it stops, changes and starts the instance.
func TestInstanceTypeChange(t *testing.T) {
	env := awstest.New(t)
	o := newObject(t, resource(t, configure(t, env, nil), aws.InstanceType), "web", machine(env.Subnet(t, env.Region), nil))
	st := o.create("tok-type")
	if st["state"] != "running" || st["instance_type"] != "t3.micro" {
		t.Fatalf("after create: %v", st)
	}
	o.config["instance_type"] = "t3.large"
	p := o.plan()
	if want := "stops the instance to change instance_type from t3.micro to t3.large, then starts it"; p.Downtime != want {
		t.Errorf("downtime %q, want %q", p.Downtime, want)
	}
	st = o.update()
	if st["state"] != "running" || st["instance_type"] != "t3.large" {
		t.Errorf("after the update: state %v, type %v", st["state"], st["instance_type"])
	}
	if inst := describe(t, env, st["id"].(string)); inst.InstanceType != "t3.large" || inst.State.Name != types.InstanceStateNameRunning {
		t.Errorf("in EC2: %s, %s", inst.InstanceType, inst.State.Name)
	}
	o.steady("after the update")

	// A stopped instance changes type without downtime and stays stopped.
	pw := checked.Unwrap(o.r).(providers.PowerSwitch)
	resp, err := pw.Power(t.Context(), providers.PowerRequest{Addr: o.addr, Op: providers.PowerStop, State: o.state})
	if err != nil {
		t.Fatal(err)
	}
	o.state = resp.State
	o.config["instance_type"] = "t3.small"
	if p := o.plan(); p.Downtime != "" {
		t.Errorf("type change of a stopped instance: downtime %q", p.Downtime)
	}
	if st := o.update(); st["state"] != "stopped" || st["instance_type"] != "t3.small" {
		t.Errorf("after the update of the stopped instance: state %v, type %v", st["state"], st["instance_type"])
	}
}

// TestInstanceTypeUnknown: a type the region does not offer fails the
// plan.
func TestInstanceTypeUnknown(t *testing.T) {
	env := awstest.New(t)
	o := newObject(t, resource(t, configure(t, env, nil), aws.InstanceType), "web", machine(env.Subnet(t, env.Region), map[string]any{"instance_type": "t3.enormous"}))
	_, err := o.r.Plan(t.Context(), providers.PlanRequest{Addr: o.addr, Config: o.config})
	for _, want := range []string{"aws.instance.web", `"t3.enormous"`, "eu-west-1", "describe-instance-type-offerings"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("plan error %v does not say %q", err, want)
		}
	}
}

// TestInstanceElasticIPMove: an elastic IP moves from one instance to
// another, and the first instance's update, applied after, leaves it
// where it went.
func TestInstanceElasticIPMove(t *testing.T) {
	env := awstest.New(t)
	subnet := env.Subnet(t, env.Region)
	r := resource(t, configure(t, env, nil), aws.InstanceType)
	ec2c := env.EC2(env.Region)
	alloc, err := ec2c.AllocateAddress(t.Context(), &ec2.AllocateAddressInput{Domain: types.DomainTypeVpc})
	if err != nil {
		t.Fatal(err)
	}
	eip, ip := *alloc.AllocationId, *alloc.PublicIp
	a := newObject(t, r, "a", machine(subnet, map[string]any{"elastic_ip": eip}))
	b := newObject(t, r, "b", machine(subnet, nil))
	if st := a.create("tok-a"); st["elastic_ip"] != eip || st["public_ip"] != ip {
		t.Fatalf("a after create: elastic_ip %v, public_ip %v; want %s, %s", st["elastic_ip"], st["public_ip"], eip, ip)
	}
	a.steady("a after create")
	b.create("tok-b")

	// The configuration moves it; b's update happens to run first.
	b.config["elastic_ip"] = eip
	a.config["elastic_ip"] = nil
	pb := b.plan()
	if _, unknown := pb.Planned["public_ip"].(spec.Unknown); !unknown {
		t.Errorf("b's plan: public_ip %v, want unknown", pb.Planned["public_ip"])
	}
	if st := b.update(); st["public_ip"] != ip {
		t.Errorf("b after the move: public_ip %v, want %s", st["public_ip"], ip)
	}
	a.update()
	addr, err := ec2c.DescribeAddresses(t.Context(), &ec2.DescribeAddressesInput{AllocationIds: []string{eip}})
	if err != nil {
		t.Fatal(err)
	}
	if got := awssdk.ToString(addr.Addresses[0].InstanceId); got != b.state["id"] {
		t.Errorf("elastic IP on %s after both updates, want b (%s)", got, b.state["id"])
	}
	b.steady("b after the move")
	a.steady("a after the move")
}

// TestInstanceVolumes: volumes attach at create, and an update detaches
// the removed one and attaches the new one; a volume attached to another
// instance is an error that leaves the new instance recorded.
func TestInstanceVolumes(t *testing.T) {
	env := awstest.New(t)
	subnet := env.Subnet(t, env.Region)
	r := resource(t, configure(t, env, nil), aws.InstanceType)
	ec2c := env.EC2(env.Region)
	var vols []string
	for range 2 {
		v, err := ec2c.CreateVolume(t.Context(), &ec2.CreateVolumeInput{AvailabilityZone: awssdk.String(subnet.Zone), Size: awssdk.Int32(10)})
		if err != nil {
			t.Fatal(err)
		}
		vols = append(vols, *v.VolumeId)
	}
	vol := func(id, dev string) map[string]any { return map[string]any{"volume_id": id, "device": dev} }
	attachedTo := func(id string) string {
		t.Helper()
		out, err := ec2c.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{VolumeIds: []string{id}})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range out.Volumes[0].Attachments {
			if a.State == types.VolumeAttachmentStateAttached {
				return awssdk.ToString(a.InstanceId)
			}
		}
		return ""
	}

	o := newObject(t, r, "db", machine(subnet, map[string]any{"volumes": []any{vol(vols[0], "/dev/sdf")}}))
	st := o.create("tok-db")
	id := st["id"].(string)
	if attachedTo(vols[0]) != id {
		t.Fatalf("volume %s is not attached to %s after create", vols[0], id)
	}
	o.steady("after create")

	o.config["volumes"] = []any{vol(vols[1], "/dev/sdg")}
	o.update()
	if attachedTo(vols[0]) != "" || attachedTo(vols[1]) != id {
		t.Errorf("after the update: %s on %q, %s on %q", vols[0], attachedTo(vols[0]), vols[1], attachedTo(vols[1]))
	}
	o.steady("after the update")

	// Another instance wants the attached volume: refused, and that
	// instance is returned as the partial state of its create.
	other := newObject(t, r, "other", machine(subnet, map[string]any{"volumes": []any{vol(vols[1], "/dev/sdf")}}))
	p := other.plan()
	resp, err := other.r.Apply(t.Context(), providers.ApplyRequest{Addr: other.addr, Action: providers.Create, Planned: p.Planned, Token: "tok-other"})
	if err == nil || !strings.Contains(err.Error(), "is attached to instance "+id) || !strings.Contains(err.Error(), "aws.instance.other") {
		t.Errorf("create with a volume attached elsewhere: %v", err)
	}
	if resp.State == nil || resp.State["id"] == nil {
		t.Errorf("no partial state: %v", resp.State)
	}
	if attachedTo(vols[1]) != id {
		t.Errorf("volume %s moved to %q", vols[1], attachedTo(vols[1]))
	}
}

// TestInstanceDrift: a type changed outside ferry shows in the next plan
// as an update; an instance terminated outside ferry is gone.
func TestInstanceDrift(t *testing.T) {
	env := awstest.New(t)
	o := newObject(t, resource(t, configure(t, env, nil), aws.InstanceType), "web", machine(env.Subnet(t, env.Region), nil))
	id := o.create("tok-drift")["id"].(string)
	ec2c := env.EC2(env.Region)
	if _, err := ec2c.StopInstances(t.Context(), &ec2.StopInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ec2c.ModifyInstanceAttribute(t.Context(), &ec2.ModifyInstanceAttributeInput{InstanceId: &id, InstanceType: &types.AttributeValue{Value: awssdk.String("m5.large")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ec2c.StartInstances(t.Context(), &ec2.StartInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	if st := o.refresh(); st["instance_type"] != "m5.large" {
		t.Fatalf("read after the change outside: instance_type %v", st["instance_type"])
	}
	p := o.plan()
	if p.Planned["instance_type"] != "t3.micro" || len(p.RequiresReplace) > 0 || !strings.Contains(p.Downtime, "from m5.large to t3.micro") {
		t.Errorf("plan after the change outside: type %v, replace %v, downtime %q", p.Planned["instance_type"], p.RequiresReplace, p.Downtime)
	}
	if _, err := ec2c.TerminateInstances(t.Context(), &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	if st := o.refresh(); st != nil {
		t.Errorf("read of a terminated instance: %v", st)
	}
}

// TestInstanceHostKey: nixos_host_key puts the host key lines NixOS reads
// after the user data; the public key is in the state and a tag, the
// private key nowhere in the state.
func TestInstanceHostKey(t *testing.T) {
	env := awstest.New(t)
	r := resource(t, configure(t, env, nil), aws.InstanceType)
	userData := "#!/bin/sh\necho hello"
	o := newObject(t, r, "nix", machine(env.Subnet(t, env.Region), map[string]any{"nixos_host_key": true, "user_data": userData}))
	if p := o.plan(); !spec.HasUnknown(p.Planned["host_key"]) {
		t.Errorf("planned host_key %v, want unknown", p.Planned["host_key"])
	}
	st := o.create("tok-nix")
	id := st["id"].(string)
	pub, _ := st["host_key"].(string)
	if !strings.HasPrefix(pub, "ssh-ed25519 ") || st["user_data"] != userData {
		t.Fatalf("state: host_key %v, user_data %q", st["host_key"], st["user_data"])
	}
	attr, err := env.EC2(env.Region).DescribeInstanceAttribute(t.Context(), &ec2.DescribeInstanceAttributeInput{InstanceId: &id, Attribute: types.InstanceAttributeNameUserData})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(awssdk.ToString(attr.UserData.Value))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if len(lines) != 4 || lines[0]+"\n"+lines[1] != userData || lines[3] != "SSH_HOST_ED25519_KEY_PUB:"+pub {
		t.Fatalf("user data in EC2:\n%s", raw)
	}
	private, ok := strings.CutPrefix(lines[2], "SSH_HOST_ED25519_KEY:")
	if !ok || !strings.HasSuffix(private, "|") {
		t.Fatalf("host key line %q", lines[2])
	}
	private = strings.ReplaceAll(private, "|", "\n")
	signer, err := ssh.ParsePrivateKey([]byte(private))
	if err != nil {
		t.Fatalf("the private host key does not parse: %v", err)
	}
	if got := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))); got != pub {
		t.Errorf("private key's public key %s, host_key %s", got, pub)
	}
	inst := describe(t, env, id)
	for _, tag := range inst.Tags {
		if awssdk.ToString(tag.Key) == "ferry:host-key" && awssdk.ToString(tag.Value) != pub {
			t.Errorf("tag ferry:host-key = %s", awssdk.ToString(tag.Value))
		}
	}
	o.steady("after create")

	// The private key is in no state: created, read, imported.
	imp, err := r.(providers.Importer).Import(t.Context(), providers.ImportRequest{Addr: o.addr, ID: id})
	if err != nil {
		t.Fatal(err)
	}
	if imp.State["user_data"] != userData || imp.State["nixos_host_key"] != true || imp.State["host_key"] != pub {
		t.Errorf("imported: user_data %q, nixos_host_key %v, host_key %v", imp.State["user_data"], imp.State["nixos_host_key"], imp.State["host_key"])
	}
	body := strings.Split(private, "\n")[1] // a line of the key's base64
	for name, s := range map[string]map[string]any{"created": st, "read": o.state, "imported": imp.State} {
		b, err := json.Marshal(spec.EncodeMap(s))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "PRIVATE KEY") || strings.Contains(string(b), body) || strings.Contains(string(b), "SSH_HOST_ED25519_KEY") {
			t.Errorf("%s state holds the private host key: %s", name, b)
		}
	}
}

// TestInstanceNixOSImage: the plan pins the newest NixOS image of the
// release and architecture, keeps it while the instance lives, looks
// again for a replacement, and says how to list releases when there is
// none.
func TestInstanceNixOSImage(t *testing.T) {
	env := awstest.New(t)
	c := configure(t, env, nil)
	r := resource(t, c, aws.InstanceType)
	subnet := env.Subnet(t, env.Region)
	images := awstest.NixOSImages()
	newest, older, arm, old := images[0].ID, images[1].ID, images[2].ID, images[3].ID

	before := c.Calls().Of("EC2.DescribeImages")
	for _, tt := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"nixos_release": "25.11"}, newest},
		{map[string]any{"nixos_release": "25.11", "arch": "arm64", "instance_type": "t4g.micro"}, arm},
		{map[string]any{"nixos_release": "25.05"}, old},
		{map[string]any{"nixos_release": "25.11"}, newest},
		{map[string]any{"ami": older}, older},
	} {
		o := newObject(t, r, "m", machine(subnet, tt.args))
		if got := o.plan().Planned["ami"]; got != tt.want {
			t.Errorf("plan of %v: ami %v, want %s", tt.args, got, tt.want)
		}
	}
	if n := c.Calls().Of("EC2.DescribeImages") - before; n != 3 {
		t.Errorf("4 lookups of 3 releases and architectures made %d DescribeImages calls, want 3", n)
	}

	// Apply plans again with the reviewed plan: the image it pinned stays,
	// even if a newer one appeared since (here: the reviewed plan pinned
	// an older one).
	{
		o := newObject(t, r, "m", machine(subnet, map[string]any{"nixos_release": "25.11"}))
		reviewed := o.plan().Planned
		reviewed["ami"] = older
		before := c.Calls().Of("EC2.DescribeImages")
		p, err := o.r.Plan(t.Context(), providers.PlanRequest{Addr: o.addr, Config: o.config, Reviewed: reviewed})
		if err != nil || p.Planned["ami"] != older {
			t.Errorf("apply's plan with a reviewed ami %s: ami %v, %v", older, p.Planned["ami"], err)
		}
		if n := c.Calls().Of("EC2.DescribeImages") - before; n != 0 {
			t.Errorf("apply's plan looked the image up again (%d calls)", n)
		}
		reviewed["nixos_release"] = "25.05" // another release was reviewed: no pin of this one
		if p, _ := o.r.Plan(t.Context(), providers.PlanRequest{Addr: o.addr, Config: o.config, Reviewed: reviewed}); p.Planned["ami"] != newest {
			t.Errorf("plan with a reviewed ami of another release: ami %v, want the lookup's %s", p.Planned["ami"], newest)
		}
	}

	// An instance of an older image keeps it; a replacement takes the
	// newest.
	o := newObject(t, r, "m", machine(subnet, map[string]any{"ami": older}))
	o.create("tok-old")
	delete(o.config, "ami")
	if p := o.plan(); p.Planned["ami"] != older || len(p.RequiresReplace) > 0 {
		t.Errorf("plan without ami over an instance of %s: ami %v, replace %v", older, p.Planned["ami"], p.RequiresReplace)
	}
	o.config["user_data"] = "another"
	if p := o.plan(); p.Planned["ami"] != newest || len(p.RequiresReplace) == 0 {
		t.Errorf("plan of a replacement: ami %v, replace %v; want %s", p.Planned["ami"], p.RequiresReplace, newest)
	}

	for args, wants := range map[*map[string]any][]string{
		{"nixos_release": "24.05"}:                  {`release "24.05"`, "x86_64", "eu-west-1", "aws ec2 describe-images --region eu-west-1 --owners 427812963091"},
		{"nixos_release": "25.05", "arch": "arm64"}: {`release "25.05"`, "arm64", "eu-west-1"},
		{"nixos_release": nil}:                      {"give ami", "nixos_release"},
	} {
		o := newObject(t, r, "m", machine(subnet, *args))
		_, err := o.r.Plan(t.Context(), providers.PlanRequest{Addr: o.addr, Config: o.config})
		for _, want := range append(wants, "aws.instance.m") {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("plan of %v: error %v does not say %q", *args, err, want)
			}
		}
	}
}

// TestInstancePower: stop, start and reboot through the API, each
// returning the state afterwards; a second stop succeeds at once.
func TestInstancePower(t *testing.T) {
	env := awstest.New(t)
	r := resource(t, configure(t, env, nil), aws.InstanceType)
	o := newObject(t, r, "m", machine(env.Subnet(t, env.Region), nil))
	o.create("tok-power")
	pw, ok := checked.Unwrap(r).(providers.PowerSwitch)
	if !ok {
		t.Fatal("aws.instance is not a PowerSwitch")
	}
	for _, step := range []struct {
		op   providers.PowerOp
		want types.InstanceStateName
	}{
		{providers.PowerStop, types.InstanceStateNameStopped},
		{providers.PowerStop, types.InstanceStateNameStopped},
		{providers.PowerStart, types.InstanceStateNameRunning},
		{providers.PowerReboot, types.InstanceStateNameRunning},
	} {
		resp, err := pw.Power(t.Context(), providers.PowerRequest{Addr: o.addr, Op: step.op, State: o.state})
		if err != nil {
			t.Fatalf("%s: %v", step.op, err)
		}
		if resp.State["state"] != string(step.want) {
			t.Errorf("%s: state %v, want %s", step.op, resp.State["state"], step.want)
		}
		if got := describe(t, env, o.state["id"].(string)).State.Name; got != step.want {
			t.Errorf("%s: EC2 says %s", step.op, got)
		}
		o.state = resp.State
	}
	if _, err := pw.Power(t.Context(), providers.PowerRequest{Addr: o.addr, Op: "hibernate", State: o.state}); err == nil || !strings.Contains(err.Error(), "aws.instance.m") {
		t.Errorf("unknown operation: %v", err)
	}
}

// TestInstanceImportErrors: import takes instance IDs, and says so.
func TestInstanceImportErrors(t *testing.T) {
	env := awstest.New(t)
	imp := resource(t, configure(t, env, nil), aws.InstanceType).(providers.Importer)
	for id, want := range map[string]string{"web": "not an instance ID", "i-0123456789abcdef0": "no instance"} {
		_, err := imp.Import(t.Context(), providers.ImportRequest{Addr: "aws.instance.web", ID: id})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "aws.instance.web") {
			t.Errorf("import %q: %v, want an error saying %q", id, err, want)
		}
	}
}

func TestInstancePlanErrors(t *testing.T) {
	env := awstest.New(t)
	r := resource(t, configure(t, env, nil), aws.InstanceType)
	subnet := env.Subnet(t, env.Region)
	tests := []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"arch": "aarch64"}, `want "x86_64" or "arm64"`},
		{map[string]any{"security_group_ids": []any{"web"}}, "not a security group ID"},
		{map[string]any{"elastic_ip": "54.1.2.3"}, "allocation ID"},
		{map[string]any{"volumes": []any{map[string]any{"volume_id": "vol-1", "device": "sdf"}}}, `"/dev/sdf"`},
		{map[string]any{"root_volume": map[string]any{"size": num(0)}}, "from 1 to 65536"},
		{map[string]any{"root_volume": map[string]any{"iops": num(3000)}}, `unknown key "iops"`},
		{map[string]any{"spot": map[string]any{"max_price": num(1)}}, "max_price must be a string"},
		{map[string]any{"user_data": strings.Repeat("x", 16*1024+1)}, "at most 16384"},
		{map[string]any{"tags": map[string]any{"ferry:host-key": "x"}}, "ferry's own"},
	}
	for _, tt := range tests {
		o := newObject(t, r, "m", machine(subnet, tt.args))
		_, err := o.r.Plan(t.Context(), providers.PlanRequest{Addr: o.addr, Config: o.config})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "aws.instance.m") {
			t.Errorf("plan %v: error %v, want one naming aws.instance.m and saying %q", tt.args, err, tt.want)
		}
	}
}

// TestInstanceSpot: a spot instance is one; a type change replaces it,
// as EC2 cannot stop a one-time spot instance.
func TestInstanceSpot(t *testing.T) {
	env := awstest.New(t)
	o := newObject(t, resource(t, configure(t, env, nil), aws.InstanceType), "m", machine(env.Subnet(t, env.Region), map[string]any{"spot": map[string]any{"max_price": "0.05"}}))
	st := o.create("tok-spot")
	if describe(t, env, st["id"].(string)).InstanceLifecycle != types.InstanceLifecycleTypeSpot {
		t.Error("not a spot instance")
	}
	o.steady("after create")
	o.config["instance_type"] = "t3.small"
	if p := o.plan(); len(p.RequiresReplace) != 1 || p.RequiresReplace[0] != "instance_type" {
		t.Errorf("type change of a spot instance: replace %v", p.RequiresReplace)
	}
}

// TestInstanceIAMProfile: an instance profile is given at create, swapped
// for another in place, and removed in place; each read shows what EC2
// has.
func TestInstanceIAMProfile(t *testing.T) {
	env := awstest.New(t)
	c := configure(t, env, nil)
	role := newObject(t, resource(t, c, aws.IAMRoleType), "node", map[string]any{"assume_role_policy": ec2TrustPolicy})
	rn := role.create("tok-role")["role_name"].(string)
	profile := func(name string) string {
		p := newObject(t, resource(t, c, aws.InstanceProfileType), name, map[string]any{"role": rn})
		return p.create("tok-" + name)["profile_name"].(string)
	}
	first, second := profile("first"), profile("second")

	o := newObject(t, resource(t, c, aws.InstanceType), "m", machine(env.Subnet(t, env.Region), map[string]any{"iam_instance_profile": first}))
	st := o.create("tok-m")
	id := st["id"].(string)
	// EC2's associations are the truth (moto's DescribeInstances keeps the
	// profile of the launch).
	has := func(step, want string) {
		t.Helper()
		out, err := env.EC2(env.Region).DescribeIamInstanceProfileAssociations(t.Context(), &ec2.DescribeIamInstanceProfileAssociationsInput{})
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, a := range out.IamInstanceProfileAssociations {
			if awssdk.ToString(a.InstanceId) == id && a.State == types.IamInstanceProfileAssociationStateAssociated {
				arn := awssdk.ToString(a.IamInstanceProfile.Arn)
				got = arn[strings.LastIndex(arn, "/")+1:]
			}
		}
		if got != want {
			t.Errorf("%s: EC2 associates instance profile %q, want %q", step, got, want)
		}
		if read := o.refresh()["iam_instance_profile"]; (want == "" && read != nil) || (want != "" && read != want) {
			t.Errorf("%s: read iam_instance_profile %v, want %q", step, read, want)
		}
	}
	has("after create", first)
	o.config["iam_instance_profile"] = second
	if p := o.plan(); len(p.RequiresReplace) > 0 {
		t.Fatalf("a profile change replaces the instance (%v), want an update in place", p.RequiresReplace)
	}
	o.update()
	has("after the swap", second)
	delete(o.config, "iam_instance_profile")
	o.update()
	has("after the removal", "")
	if got := o.state["id"]; got != id {
		t.Errorf("instance %v after the updates, want %s in place", got, id)
	}
}
