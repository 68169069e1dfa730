package aws_test

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/aws"
	"github.com/nixferry/ferry/providers/aws/awstest"
	"github.com/nixferry/ferry/providers/providertest"
)

// newVPC makes a VPC outside ferry, for the types that need one.
func newVPC(t testing.TB, env *awstest.Env, cidr string) string {
	t.Helper()
	out, err := env.EC2(env.Region).CreateVpc(t.Context(), &ec2.CreateVpcInput{CidrBlock: awssdk.String(cidr)})
	if err != nil {
		t.Fatalf("CreateVpc %s: %v", cidr, err)
	}
	return awssdk.ToString(out.Vpc.VpcId)
}

// vpcPool makes VPCs on demand, one per index, for cases whose objects
// need a VPC each (one internet gateway per VPC).
type vpcPool struct {
	t    testing.TB
	env  *awstest.Env
	mu   sync.Mutex
	vpcs map[int]string
}

func (p *vpcPool) get(i int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := p.vpcs[i]; ok {
		return v
	}
	v := newVPC(p.t, p.env, fmt.Sprintf("10.%d.0.0/16", 100+i))
	p.vpcs[i] = v
	return v
}

// The conformance cases of the network types (TestConformance).

func vpcCase() providertest.Case {
	return providertest.Case{
		Create:       map[string]any{"cidr_block": "10.0.0.0/16", "tags": map[string]any{"env": "test"}},
		Update:       map[string]any{"enable_dns_hostnames": true, "tags": map[string]any{"env": "prod"}},
		Replace:      map[string]any{"cidr_block": "10.1.0.0/16"},
		External:     true,
		PageSize:     200,
		BatchObjects: 5,
		// No Calls: a VPC's DNS attributes cost two DescribeVpcAttribute
		// each (EC2 has no batch of them); TestNetworkRefresh counts.
	}
}

func subnetCase(t testing.TB, env *awstest.Env) providertest.Case {
	vpc := newVPC(t, env, "10.20.0.0/16")
	return providertest.Case{
		Create:  map[string]any{"vpc_id": vpc, "cidr_block": "10.20.0.0/24", "tags": map[string]any{"env": "test"}},
		Update:  map[string]any{"map_public_ip_on_launch": true, "tags": map[string]any{"env": "prod"}},
		Replace: map[string]any{"cidr_block": "10.20.250.0/24"},
		// Subnets of one VPC may not overlap.
		Distinct:     func(i int) map[string]any { return map[string]any{"cidr_block": fmt.Sprintf("10.20.%d.0/24", 100+i)} },
		External:     true,
		PageSize:     200,
		BatchObjects: 5,
		Calls:        calls,
	}
}

func internetGatewayCase(t testing.TB, env *awstest.Env) providertest.Case {
	pool := &vpcPool{t: t, env: env, vpcs: map[int]string{}}
	return providertest.Case{
		Create: map[string]any{"vpc_id": pool.get(-1), "route_default": true, "tags": map[string]any{"env": "test"}},
		// Moves to another VPC, and its default route with it.
		Update: map[string]any{"vpc_id": pool.get(-2), "tags": map[string]any{"env": "prod"}},
		// A VPC has one internet gateway, and one default route.
		Distinct: func(i int) map[string]any { return map[string]any{"vpc_id": pool.get(i)} },
		// The attach to a VPC that does not exist fails after the gateway
		// is made.
		Fail:         map[string]any{"vpc_id": "vpc-00000000000000000"},
		External:     true,
		PageSize:     200,
		BatchObjects: 5,
		Calls:        calls,
	}
}

func elasticIPCase() providertest.Case {
	return providertest.Case{
		Create:       map[string]any{"tags": map[string]any{"env": "test"}},
		Update:       map[string]any{"tags": map[string]any{"env": "prod", "team": "ops"}},
		External:     true,
		PageSize:     200,
		BatchObjects: 5,
		Calls:        calls,
	}
}

// TestNetworkImport: objects made outside ferry import by ID with what
// EC2 has, and a plan of matching arguments over them changes nothing.
func TestNetworkImport(t *testing.T) {
	env := awstest.New(t)
	c := configure(t, env, nil)
	subnet := env.Subnet(t, env.Region)
	ec2c := env.EC2(env.Region)
	igw, err := ec2c.CreateInternetGateway(t.Context(), &ec2.CreateInternetGatewayInput{})
	if err != nil {
		t.Fatal(err)
	}
	igwID := awssdk.ToString(igw.InternetGateway.InternetGatewayId)
	if _, err := ec2c.AttachInternetGateway(t.Context(), &ec2.AttachInternetGatewayInput{InternetGatewayId: igw.InternetGateway.InternetGatewayId, VpcId: awssdk.String(subnet.VPC)}); err != nil {
		t.Fatal(err)
	}
	eip, err := ec2c.AllocateAddress(t.Context(), &ec2.AllocateAddressInput{Domain: types.DomainTypeVpc})
	if err != nil {
		t.Fatal(err)
	}
	// The bed's VPC holds the 127.X.0.0/16 its lease gave it (X is not 0
	// when another test process holds that network).
	vpcCIDR := netip.PrefixFrom(subnet.CIDR.Addr(), 16).Masked().String()
	tests := []struct {
		typ, id string
		args    map[string]any
		want    map[string]any
	}{
		{aws.VpcType, subnet.VPC, map[string]any{"cidr_block": vpcCIDR, "tags": map[string]any{"Name": "ferry-test-loopback"}},
			map[string]any{"cidr_block": vpcCIDR, "enable_dns_support": true, "enable_dns_hostnames": false}},
		{aws.SubnetType, subnet.ID, map[string]any{"vpc_id": subnet.VPC, "cidr_block": subnet.CIDR.String()},
			map[string]any{"availability_zone": subnet.Zone, "cidr_block": subnet.CIDR.String()}},
		{aws.InternetGatewayType, igwID, map[string]any{"vpc_id": subnet.VPC},
			map[string]any{"vpc_id": subnet.VPC, "route_default": false}},
		{aws.ElasticIPType, awssdk.ToString(eip.AllocationId), nil,
			map[string]any{"public_ip": awssdk.ToString(eip.PublicIp), "instance_id": nil}},
	}
	for _, tt := range tests {
		r := resource(t, c, tt.typ)
		resp, err := r.(providers.Importer).Import(t.Context(), providers.ImportRequest{Addr: tt.typ + ".x", ID: tt.id})
		if err != nil {
			t.Errorf("import %s %s: %v", tt.typ, tt.id, err)
			continue
		}
		for k, v := range tt.want {
			if !cmp.Equal(resp.State[k], v) {
				t.Errorf("import %s %s: %s = %v, want %v", tt.typ, tt.id, k, resp.State[k], v)
			}
		}
		o := newObject(t, r, "x", tt.args)
		o.state = resp.State
		if p := o.plan(); !cmp.Equal(p.Planned, resp.State) {
			t.Errorf("import %s %s: a plan of %v over it changes it (-imported +planned):\n%s", tt.typ, tt.id, tt.args, cmp.Diff(resp.State, p.Planned))
		}
	}
}
