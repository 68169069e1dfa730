package aws_test

import (
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/nixferry/ferry/engine/spec"

	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/aws"
	"github.com/nixferry/ferry/providers/aws/awstest"
	"github.com/nixferry/ferry/providers/providertest"
)

// ebsVolumeCase is aws.ebs_volume's conformance case (TestConformance).
// moto ignores ClientToken: a retried create is found by its token tag
// (Adopt), not by EC2 (Idempotent false).
func ebsVolumeCase(t *testing.T, env *awstest.Env) providertest.Case {
	t.Helper()
	return providertest.Case{
		Create:       map[string]any{"availability_zone": env.Region + "a", "size": num(8), "tags": map[string]any{"env": "test"}},
		Update:       map[string]any{"size": num(16), "iops": num(4000), "throughput": num(250), "tags": map[string]any{"env": "prod"}},
		Replace:      map[string]any{"availability_zone": env.Region + "b"},
		External:     true,
		PageSize:     200,
		BatchObjects: 5,
		Calls:        calls,
	}
}

// TestEBSVolumeGrowAndShrink: a bigger size and another type change the
// volume in place (one ModifyVolume), the new type's IOPS are known after
// apply, and a smaller size is refused at plan.
func TestEBSVolumeGrowAndShrink(t *testing.T) {
	env := awstest.New(t)
	c := configure(t, env, nil)
	o := newObject(t, resource(t, c, aws.EBSVolumeType), "data", map[string]any{"availability_zone": env.Region + "a", "size": num(10)})
	st := o.create("tok-data")
	if st["volume_type"] != "gp3" || st["iops"] != num(3000) || st["attached_to"] != nil {
		t.Errorf("created %v: want gp3, 3000 IOPS, not attached", st)
	}
	o.steady("after create")

	o.config["size"], o.config["volume_type"] = num(20), "gp2"
	p := o.plan()
	if _, unknown := p.Planned["iops"].(spec.Unknown); !unknown {
		t.Errorf("planned iops %v after a type change, want (known after apply)", p.Planned["iops"])
	}
	before := c.Calls().Of("EC2.ModifyVolume")
	o.update()
	if n := c.Calls().Of("EC2.ModifyVolume") - before; n != 1 {
		t.Errorf("update made %d ModifyVolume calls, want 1", n)
	}
	o.steady("after the update")

	o.config["size"] = num(5)
	_, err := o.r.Plan(t.Context(), providers.PlanRequest{Addr: o.addr, Prior: o.state, Config: o.config})
	for _, want := range []string{"aws.ebs_volume.data", "5 GiB is smaller than the volume's 20 GiB", "only grow", "--replace aws.ebs_volume.data"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("plan of a smaller size: error %v does not say %q", err, want)
		}
	}
}

// TestEBSVolumeDrift: a volume grown outside ferry reads back grown, and
// the plan, which cannot shrink it, says so.
func TestEBSVolumeDrift(t *testing.T) {
	env := awstest.New(t)
	o := newObject(t, resource(t, configure(t, env, nil), aws.EBSVolumeType), "v", map[string]any{"availability_zone": env.Region + "a", "size": num(8), "tags": map[string]any{"a": "1"}})
	id := o.create("tok-drift")["id"].(string)
	ec2c := env.EC2(env.Region)
	if _, err := ec2c.ModifyVolume(t.Context(), &ec2.ModifyVolumeInput{VolumeId: awssdk.String(id), Size: awssdk.Int32(12)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ec2c.DeleteTags(t.Context(), &ec2.DeleteTagsInput{Resources: []string{id}, Tags: []types.Tag{{Key: awssdk.String("a")}}}); err != nil {
		t.Fatal(err)
	}
	st := o.refresh()
	if st["size"] != num(12) || len(st["tags"].(map[string]any)) != 0 {
		t.Errorf("read after the changes outside ferry: size %v, tags %v", st["size"], st["tags"])
	}
	if _, err := o.r.Plan(t.Context(), providers.PlanRequest{Addr: o.addr, Prior: o.state, Config: o.config}); err == nil || !strings.Contains(err.Error(), "smaller") {
		t.Errorf("plan of 8 GiB over a volume grown to 12: %v", err)
	}
}

// TestEBSVolumeAttached: deleting a volume an instance holds fails and
// names the instance; once detached it deletes. (moto has no detaching
// state: the wait for a detach to finish is not exercised here.)
func TestEBSVolumeAttached(t *testing.T) {
	env := awstest.New(t)
	subnet := env.Subnet(t, env.Region)
	ec2c := env.EC2(env.Region)
	run, err := ec2c.RunInstances(t.Context(), &ec2.RunInstancesInput{ImageId: awssdk.String("ami-12c6146b"), MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1), InstanceType: types.InstanceTypeT3Micro, SubnetId: awssdk.String(subnet.ID)})
	if err != nil {
		t.Fatal(err)
	}
	inst := awssdk.ToString(run.Instances[0].InstanceId)
	o := newObject(t, resource(t, configure(t, env, nil), aws.EBSVolumeType), "disk", map[string]any{"availability_zone": subnet.Zone, "size": num(8)})
	id := o.create("tok-attached")["id"].(string)
	if _, err := ec2c.AttachVolume(t.Context(), &ec2.AttachVolumeInput{VolumeId: awssdk.String(id), InstanceId: awssdk.String(inst), Device: awssdk.String("/dev/sdf")}); err != nil {
		t.Fatal(err)
	}
	if got := o.refresh()["attached_to"]; got != inst {
		t.Errorf("attached_to %v, want %s", got, inst)
	}
	_, err = o.r.Apply(t.Context(), providers.ApplyRequest{Addr: o.addr, Action: providers.Delete, Prior: o.state})
	for _, want := range []string{"delete aws.ebs_volume.disk", "attached to " + inst, "detach it first"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("delete of an attached volume: error %v does not say %q", err, want)
		}
	}
	if _, err := ec2c.DetachVolume(t.Context(), &ec2.DetachVolumeInput{VolumeId: awssdk.String(id), InstanceId: awssdk.String(inst), Device: awssdk.String("/dev/sdf")}); err != nil {
		t.Fatal(err)
	}
	if o.refresh()["attached_to"] != nil {
		t.Errorf("attached_to %v after the detach", o.state["attached_to"])
	}
	o.delete()
	if o.refresh() != nil {
		t.Error("volume still there after the delete")
	}
}

func TestEBSVolumePlanErrors(t *testing.T) {
	env := awstest.New(t)
	r := resource(t, configure(t, env, nil), aws.EBSVolumeType)
	zone := env.Region + "a"
	tests := []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"availability_zone": zone}, "give size"},
		{map[string]any{"availability_zone": zone, "size": num(0)}, "above 0"},
		{map[string]any{"availability_zone": zone, "size": num(8), "volume_type": "gp9"}, "want one of gp3"},
		{map[string]any{"availability_zone": zone, "size": num(8), "volume_type": "gp2", "iops": num(100)}, "take no provisioned IOPS"},
		{map[string]any{"availability_zone": zone, "size": num(8), "volume_type": "io2"}, "need iops"},
		{map[string]any{"availability_zone": zone, "size": num(8), "volume_type": "gp2", "throughput": num(200)}, "only gp3"},
		{map[string]any{"availability_zone": zone, "size": num(8), "encrypted": false, "kms_key_id": "k"}, "encrypted = false"},
	}
	for _, tt := range tests {
		o := newObject(t, r, "v", tt.args)
		_, err := o.r.Plan(t.Context(), providers.PlanRequest{Addr: o.addr, Config: o.config})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "aws.ebs_volume.v") {
			t.Errorf("plan %v: error %v, want one naming aws.ebs_volume.v and saying %q", tt.args, err, tt.want)
		}
	}
}
