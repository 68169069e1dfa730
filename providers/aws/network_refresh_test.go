package aws_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/aws"
	"github.com/nixferry/ferry/providers/aws/awstest"
)

// TestNetworkRefresh: a plan of networks (each a VPC, a subnet, an
// internet gateway routing the VPC, an elastic IP) refreshes with one
// Describe call of each type's own, whatever the number of networks. On
// top: the VPCs' main route tables and default security groups (one call
// each per page), the gateways' route tables (one per page), and two
// DescribeVpcAttribute per VPC, which EC2 has no batch of.
func TestNetworkRefresh(t *testing.T) {
	const n = 3
	env := awstest.New(t)
	c := configure(t, env, nil)
	reqs := map[string][]providers.ReadRequest{}
	add := func(typ, name string, args map[string]any) map[string]any {
		o := newObject(t, resource(t, c, typ), name, args)
		st := o.create("tok-" + o.addr)
		reqs[typ] = append(reqs[typ], providers.ReadRequest{Addr: o.addr, Prior: st})
		return st
	}
	for i := range n {
		vpc := add(aws.VpcType, fmt.Sprint("net", i), map[string]any{"cidr_block": fmt.Sprintf("10.%d.0.0/16", i)})["id"]
		add(aws.SubnetType, fmt.Sprint("a", i), map[string]any{"vpc_id": vpc, "cidr_block": fmt.Sprintf("10.%d.1.0/24", i)})
		add(aws.InternetGatewayType, fmt.Sprint("gw", i), map[string]any{"vpc_id": vpc, "route_default": true})
		add(aws.ElasticIPType, fmt.Sprint("ip", i), nil)
	}

	before := c.Calls().Counts()
	for typ, rs := range reqs {
		resps, err := c.Resources()[typ].(providers.BatchReader).ReadMany(t.Context(), rs)
		if err != nil {
			t.Fatal(err)
		}
		for i, resp := range resps {
			if diff := cmp.Diff(rs[i].Prior, resp.State); diff != "" {
				t.Errorf("%s: refresh changed the state (-created +read):\n%s", rs[i].Addr, diff)
			}
		}
	}
	after := c.Calls().Counts()
	want := map[string]int{
		"EC2.DescribeVpcs":             1,
		"EC2.DescribeSubnets":          1,
		"EC2.DescribeInternetGateways": 1,
		"EC2.DescribeAddresses":        1,
		"EC2.DescribeRouteTables":      2, // the VPCs' main tables, the gateways' routes
		"EC2.DescribeSecurityGroups":   1, // the VPCs' default groups
		"EC2.DescribeVpcAttribute":     2 * n,
	}
	got := map[string]int{}
	for op, k := range after {
		if d := k - before[op]; d > 0 {
			got[op] = d
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("calls of a refresh of %d networks (-want +got):\n%s", n, diff)
	}
}
