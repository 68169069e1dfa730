package aws_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/aws"
	"github.com/nixferry/ferry/providers/aws/awstest"
)

// vpcAttr reads a DNS attribute of a VPC from EC2.
func vpcAttr(t *testing.T, env *awstest.Env, id string, a types.VpcAttributeName) bool {
	t.Helper()
	out, err := env.EC2(env.Region).DescribeVpcAttribute(t.Context(), &ec2.DescribeVpcAttributeInput{VpcId: awssdk.String(id), Attribute: a})
	if err != nil {
		t.Fatal(err)
	}
	if a == types.VpcAttributeNameEnableDnsHostnames {
		return awssdk.ToBool(out.EnableDnsHostnames.Value)
	}
	return awssdk.ToBool(out.EnableDnsSupport.Value)
}

// TestVpcDrift: DNS attributes and tags changed outside ferry show in a
// read, and the update puts back the configured ones.
func TestVpcDrift(t *testing.T) {
	env := awstest.New(t)
	c := configure(t, env, nil)
	o := newObject(t, resource(t, c, aws.VpcType), "net", map[string]any{"cidr_block": "10.0.0.0/16", "tags": map[string]any{"team": "ops"}})
	st := o.create("tok-net")
	o.steady("after create")
	id := st["id"].(string)
	if !strings.HasPrefix(id, "vpc-") || st["enable_dns_support"] != true || st["enable_dns_hostnames"] != false ||
		!strings.HasPrefix(st["main_route_table_id"].(string), "rtb-") || !strings.HasPrefix(st["default_security_group_id"].(string), "sg-") {
		t.Errorf("state after create: %v", st)
	}

	ec2c := env.EC2(env.Region)
	if _, err := ec2c.ModifyVpcAttribute(t.Context(), &ec2.ModifyVpcAttributeInput{VpcId: awssdk.String(id), EnableDnsHostnames: &types.AttributeBooleanValue{Value: awssdk.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ec2c.CreateTags(t.Context(), &ec2.CreateTagsInput{Resources: []string{id}, Tags: []types.Tag{{Key: awssdk.String("owner"), Value: awssdk.String("bob")}}}); err != nil {
		t.Fatal(err)
	}
	drifted := o.refresh()
	if drifted["enable_dns_hostnames"] != true || !cmp.Equal(drifted["tags"], map[string]any{"team": "ops", "owner": "bob"}) {
		t.Errorf("read after the changes outside ferry: %v", drifted)
	}
	o.update()
	o.steady("after the update")
	if vpcAttr(t, env, id, types.VpcAttributeNameEnableDnsHostnames) {
		t.Error("enable_dns_hostnames is still on in EC2 after the update")
	}

	// Both DNS attributes off, then on: the calls come in an order EC2
	// takes (moto does not check it; AWS refuses hostnames without
	// support).
	o.config["enable_dns_support"] = false
	o.update()
	o.config["enable_dns_support"], o.config["enable_dns_hostnames"] = true, true
	o.update()
	o.steady("after turning DNS on")
	if !vpcAttr(t, env, id, types.VpcAttributeNameEnableDnsSupport) || !vpcAttr(t, env, id, types.VpcAttributeNameEnableDnsHostnames) {
		t.Error("DNS attributes in EC2 are not both on")
	}
	o.delete()
}

// deleteWatch starts the delete of o and returns its result's channel.
func deleteWatch(o *object) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := o.r.Apply(o.t.Context(), providers.ApplyRequest{Addr: o.addr, Action: providers.Delete, Prior: o.state})
		done <- err
	}()
	return done
}

// TestVpcDeleteWaits: a VPC whose subnet is still there is deleted once
// the subnet is gone, as when EC2 frees dependents late.
func TestVpcDeleteWaits(t *testing.T) {
	env := awstest.New(t)
	c := configure(t, env, nil)
	refused := make(chan string, 100)
	aws.SetDependencyWait(c, time.Minute, 10*time.Millisecond, func(action string) { refused <- action })
	v := newObject(t, resource(t, c, aws.VpcType), "net", map[string]any{"cidr_block": "10.0.0.0/16"})
	vpcID := v.create("tok-vpc")["id"].(string)
	s := newObject(t, resource(t, c, aws.SubnetType), "a", map[string]any{"vpc_id": vpcID, "cidr_block": "10.0.1.0/24"})
	s.create("tok-subnet")

	done := deleteWatch(v)
	if action := <-refused; action != "ec2:DeleteVpc" {
		t.Fatalf("refused: %s, want ec2:DeleteVpc", action)
	}
	s.delete()
	if err := <-done; err != nil {
		t.Fatalf("delete of the VPC once its subnet is gone: %v", err)
	}
	if st := v.refresh(); st != nil {
		t.Errorf("VPC still there: %v", st)
	}
}

// TestVpcDeleteInUse: once the wait is over, the error names the VPC's
// dependents and what to do, and is not one the engine retries.
func TestVpcDeleteInUse(t *testing.T) {
	env := awstest.New(t)
	c := configure(t, env, nil)
	aws.SetDependencyWait(c, 0, 0, nil)
	v := newObject(t, resource(t, c, aws.VpcType), "net", map[string]any{"cidr_block": "10.0.0.0/16"})
	vpcID := v.create("tok-vpc")["id"].(string)
	s := newObject(t, resource(t, c, aws.SubnetType), "a", map[string]any{"vpc_id": vpcID, "cidr_block": "10.0.1.0/24"})
	subnetID := s.create("tok-subnet")["id"].(string)

	err := <-deleteWatch(v)
	if err == nil {
		t.Fatal("delete of a VPC with a subnet succeeded")
	}
	for _, want := range []string{"delete aws.vpc.net", "ec2:DeleteVpc", "DependencyViolation", subnetID, "delete those first"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	var r providers.Retryable
	if errors.As(err, &r) && r.Retryable() {
		t.Errorf("error %q is Retryable: the engine would wait again", err)
	}
	s.delete()
	v.delete()
}

func TestVpcPlanErrors(t *testing.T) {
	env := awstest.New(t)
	r := resource(t, configure(t, env, nil), aws.VpcType)
	tests := []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"cidr_block": "10.0.0.1/16"}, "write 10.0.0.0/16"},
		{map[string]any{"cidr_block": "10.0.0.0/8"}, "/16 to /28"},
		{map[string]any{"cidr_block": "fd00::/56"}, "not an IPv4 network"},
		{map[string]any{"cidr_block": "10.0.0.0/16", "enable_dns_support": false, "enable_dns_hostnames": true}, "needs enable_dns_support"},
		{map[string]any{"cidr_block": "10.0.0.0/16", "tags": map[string]any{"ferry:token": "x"}}, "ferry's own"},
	}
	for _, tt := range tests {
		o := newObject(t, r, "net", tt.args)
		_, err := o.r.Plan(t.Context(), providers.PlanRequest{Addr: o.addr, Config: o.config})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "aws.vpc.net") {
			t.Errorf("plan of %v: %v; want an error naming aws.vpc.net and saying %q", tt.args, err, tt.want)
		}
	}
}
