package aws_test

import (
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/aws"
	"github.com/nixferry/ferry/providers/aws/awstest"
)

// TestElasticIPAssociation: the association an instance makes shows in
// a read without planning a change, and the delete undoes it before it
// releases the address. The address (a random 127.x.y.z of moto's) is
// never dialled.
func TestElasticIPAssociation(t *testing.T) {
	env := awstest.New(t)
	subnet := env.Subnet(t, env.Region)
	o := newObject(t, resource(t, configure(t, env, nil), aws.ElasticIPType), "web", nil)
	st := o.create("tok-web")
	if !strings.HasPrefix(st["id"].(string), "eipalloc-") || st["public_ip"] == nil || st["instance_id"] != nil || st["domain"] != "vpc" {
		t.Errorf("state after create: %v", st)
	}
	o.steady("after create")

	// What aws.instance(elastic_ip = ...) does.
	ec2c := env.EC2(env.Region)
	run, err := ec2c.RunInstances(t.Context(), &ec2.RunInstancesInput{ImageId: awssdk.String("ami-12c6146b"), MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1), InstanceType: types.InstanceTypeT3Micro, SubnetId: awssdk.String(subnet.ID)})
	if err != nil {
		t.Fatal(err)
	}
	instance := awssdk.ToString(run.Instances[0].InstanceId)
	assoc, err := ec2c.AssociateAddress(t.Context(), &ec2.AssociateAddressInput{AllocationId: awssdk.String(st["id"].(string)), InstanceId: awssdk.String(instance)})
	if err != nil {
		t.Fatal(err)
	}
	read := o.refresh()
	if read["instance_id"] != instance || read["association_id"] != awssdk.ToString(assoc.AssociationId) {
		t.Errorf("read after the association: %v", read)
	}
	if p := o.plan(); len(p.RequiresReplace) > 0 || p.Planned["instance_id"] != instance {
		t.Errorf("plan over the association: %v, replaces %v", p.Planned, p.RequiresReplace)
	}

	o.delete()
	out, err := ec2c.DescribeAddresses(t.Context(), &ec2.DescribeAddressesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Addresses) != 0 {
		t.Errorf("addresses after delete: %v", out.Addresses)
	}
}

func TestElasticIPPlanErrors(t *testing.T) {
	env := awstest.New(t)
	o := newObject(t, resource(t, configure(t, env, nil), aws.ElasticIPType), "web", map[string]any{"domain": "standard"})
	if _, err := o.r.Plan(t.Context(), providers.PlanRequest{Addr: o.addr, Config: o.config}); err == nil || !strings.Contains(err.Error(), `aws.elastic_ip.web: argument "domain" = "standard"`) {
		t.Errorf("plan of domain standard: %v", err)
	}
}
