package aws_test

import (
	"slices"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/aws"
	"github.com/nixferry/ferry/providers/aws/awstest"
)

// TestSubnetDrift: map_public_ip_on_launch turned on outside ferry shows
// in a read, and the update turns it off again; moto turns it on in the
// first subnet of a zone, which the create turns off.
func TestSubnetDrift(t *testing.T) {
	env := awstest.New(t)
	vpc := newVPC(t, env, "10.0.0.0/16")
	o := newObject(t, resource(t, configure(t, env, nil), aws.SubnetType), "a", map[string]any{
		"vpc_id": vpc, "cidr_block": "10.0.1.0/24", "availability_zone": env.Region + "b",
	})
	st := o.create("tok-a")
	o.steady("after create")
	if st["availability_zone"] != env.Region+"b" || st["map_public_ip_on_launch"] != false {
		t.Errorf("state after create: %v", st)
	}
	id := st["id"].(string)
	_, err := env.EC2(env.Region).ModifySubnetAttribute(t.Context(), &ec2.ModifySubnetAttributeInput{SubnetId: awssdk.String(id), MapPublicIpOnLaunch: &types.AttributeBooleanValue{Value: awssdk.Bool(true)}})
	if err != nil {
		t.Fatal(err)
	}
	if got := o.refresh()["map_public_ip_on_launch"]; got != true {
		t.Errorf("map_public_ip_on_launch after the change outside ferry: %v", got)
	}
	o.update()
	o.steady("after the update")

	o.config["availability_zone"] = env.Region + "c"
	if p := o.plan(); !slices.Equal(p.RequiresReplace, []string{"availability_zone"}) {
		t.Errorf("another zone replaces %v, want [availability_zone]", p.RequiresReplace)
	}
	o.delete()
}

// TestSubnetErrors: what EC2 refuses says which argument to change.
func TestSubnetErrors(t *testing.T) {
	env := awstest.New(t)
	vpc := newVPC(t, env, "10.0.0.0/16")
	r := resource(t, configure(t, env, nil), aws.SubnetType)
	a := newObject(t, r, "a", map[string]any{"vpc_id": vpc, "cidr_block": "10.0.1.0/24"})
	a.create("tok-a")
	for _, tt := range []struct{ cidr, want string }{
		{"10.0.1.0/25", "overlaps another subnet of " + vpc},
		{"10.9.0.0/24", "is not inside the network of " + vpc},
	} {
		b := newObject(t, r, "b", map[string]any{"vpc_id": vpc, "cidr_block": tt.cidr})
		_, err := b.r.Apply(t.Context(), providers.ApplyRequest{Addr: b.addr, Action: providers.Create, Planned: b.plan().Planned, Token: "tok-b"})
		if err == nil || !strings.Contains(err.Error(), "create aws.subnet.b: ec2:CreateSubnet") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("create of %s: %v; want an error saying %q", tt.cidr, err, tt.want)
		}
	}
	a.delete()
}
