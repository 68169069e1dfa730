package awstest

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// loopbackVPC is the loopback VPC of one region and the subnets made in
// it.
type loopbackVPC struct {
	id      string
	cidr    netip.Prefix   // 127.X.0.0/16
	subnets int            // made so far; the next is 127.X.(subnets+1).0/24
	cidrs   []netip.Prefix // of the subnets made, once moto has them
}

// maxSubnets is how many /24 subnets one loopback VPC holds: 127.X.1.0 to
// 127.X.255.0 (127.X.0.0/24 is never handed out).
const maxSubnets = 255

// Subnet is a loopback subnet of the test bed.
type Subnet struct {
	ID     string
	VPC    string
	Region string
	Zone   string       // availability zone: region + "a"
	CIDR   netip.Prefix // 127.X.Y.0/24
}

// VPC returns the loopback VPC of region, created on first use: CIDR
// 127.X.0.0/16, X the lowest second octet that neither this test's other
// regions nor another test process running now hold (see leaseNetwork);
// the test holds it until it ends.
func (e *Env) VPC(t testing.TB, region string) string {
	t.Helper()
	v, err := e.vpc(t, region)
	if err != nil {
		t.Fatal(err)
	}
	return v.id
}

func (e *Env) vpc(t testing.TB, region string) (*loopbackVPC, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if v := e.vpcs[region]; v != nil {
		return v, nil
	}
	x, release, err := leaseNetwork(func(x int) bool {
		return slices.ContainsFunc(slices.Collect(maps.Values(e.vpcs)), func(v *loopbackVPC) bool { return int(v.cidr.Addr().As4()[1]) == x })
	})
	if err != nil {
		return nil, fmt.Errorf("loopback VPC of %s: %w", region, err)
	}
	e.leases = append(e.leases, release)
	cidr := netip.PrefixFrom(netip.AddrFrom4([4]byte{127, byte(x), 0, 0}), 16)
	out, err := e.EC2(region).CreateVpc(t.Context(), &ec2.CreateVpcInput{
		CidrBlock: aws.String(cidr.String()),
		TagSpecifications: []types.TagSpecification{{
			ResourceType: types.ResourceTypeVpc,
			Tags:         []types.Tag{{Key: aws.String("Name"), Value: aws.String("ferry-test-loopback")}},
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("loopback VPC of %s: CreateVpc %s: %w", region, cidr, err)
	}
	v := &loopbackVPC{id: aws.ToString(out.Vpc.VpcId), cidr: cidr}
	e.vpcs[region] = v
	return v, nil
}

// Subnet creates a new /24 subnet in region's loopback VPC, in zone
// region+"a", and lets the guard dial it. Instances launched into it get
// its addresses from .4 on, as moto hands them out.
func (e *Env) Subnet(t testing.TB, region string) Subnet {
	t.Helper()
	v, err := e.vpc(t, region)
	if err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	if v.subnets >= maxSubnets {
		e.mu.Unlock()
		t.Fatalf("loopback VPC %s of %s: all %d subnets are taken", v.id, region, maxSubnets)
	}
	v.subnets++
	x := v.cidr.Addr().As4()[1]
	cidr := netip.PrefixFrom(netip.AddrFrom4([4]byte{127, x, byte(v.subnets), 0}), 24)
	e.mu.Unlock()

	zone := region + "a"
	out, err := e.EC2(region).CreateSubnet(t.Context(), &ec2.CreateSubnetInput{
		VpcId:            aws.String(v.id),
		CidrBlock:        aws.String(cidr.String()),
		AvailabilityZone: aws.String(zone),
	})
	if err != nil {
		t.Fatalf("loopback subnet %s in %s: CreateSubnet: %v", cidr, v.id, err)
	}
	if err := e.guard.Allow(cidr); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	v.cidrs = append(v.cidrs, cidr)
	e.mu.Unlock()
	return Subnet{ID: aws.ToString(out.Subnet.SubnetId), VPC: v.id, Region: region, Zone: zone, CIDR: cidr}
}

// bedNetworks lists, by region, the subnets the bed made: the only
// addresses a test host may take.
func (e *Env) bedNetworks() map[string][]netip.Prefix {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string][]netip.Prefix{}
	for region, v := range e.vpcs {
		if len(v.cidrs) > 0 {
			out[region] = slices.Clone(v.cidrs)
		}
	}
	return out
}
