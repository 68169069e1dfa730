package aws

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// The finders of the network types (VPCs, subnets, internet gateways,
// elastic IPs), by filter as in ec2_find.go, so that an object deleted
// outside ferry drops out of a page instead of failing it.

// findVpcs pages through DescribeVpcs.
func (c *Client) findVpcs(ctx context.Context, filters ...types.Filter) ([]types.Vpc, error) {
	var out []types.Vpc
	p := ec2.NewDescribeVpcsPaginator(c.ec2, &ec2.DescribeVpcsInput{Filters: filters, MaxResults: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, callErr("ec2:DescribeVpcs", err)
		}
		out = append(out, page.Vpcs...)
	}
	return out, nil
}

func vpcID(v types.Vpc) string { return aws.ToString(v.VpcId) }

// findVpcsByIDs returns the VPCs with the given IDs that exist, by ID.
func (c *Client) findVpcsByIDs(ctx context.Context, ids []string) (map[string]types.Vpc, error) {
	return findByIDs(ctx, c, ids, func(ctx context.Context, page []string) ([]types.Vpc, error) {
		return c.findVpcs(ctx, filter("vpc-id", page...))
	}, vpcID)
}

// vpcDNS is a VPC's DNS attributes.
type vpcDNS struct{ support, hostnames bool }

// findVpcDNS reads a VPC's DNS attributes: DescribeVpcAttribute answers
// one attribute of one VPC per call, and DescribeVpcs does not show them.
func (c *Client) findVpcDNS(ctx context.Context, id string) (vpcDNS, error) {
	var dns vpcDNS
	for _, a := range []types.VpcAttributeName{types.VpcAttributeNameEnableDnsSupport, types.VpcAttributeNameEnableDnsHostnames} {
		out, err := c.ec2.DescribeVpcAttribute(ctx, &ec2.DescribeVpcAttributeInput{VpcId: aws.String(id), Attribute: a})
		if err != nil {
			return dns, callErr("ec2:DescribeVpcAttribute", err)
		}
		if a == types.VpcAttributeNameEnableDnsSupport {
			dns.support = out.EnableDnsSupport != nil && aws.ToBool(out.EnableDnsSupport.Value)
		} else {
			dns.hostnames = out.EnableDnsHostnames != nil && aws.ToBool(out.EnableDnsHostnames.Value)
		}
	}
	return dns, nil
}

// findRouteTables pages through DescribeRouteTables.
func (c *Client) findRouteTables(ctx context.Context, filters ...types.Filter) ([]types.RouteTable, error) {
	var out []types.RouteTable
	p := ec2.NewDescribeRouteTablesPaginator(c.ec2, &ec2.DescribeRouteTablesInput{Filters: filters, MaxResults: aws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, callErr("ec2:DescribeRouteTables", err)
		}
		out = append(out, page.RouteTables...)
	}
	return out, nil
}

// findMainRouteTables returns the main route tables of the given VPCs, by
// VPC ID.
func (c *Client) findMainRouteTables(ctx context.Context, vpcs []string) (map[string]types.RouteTable, error) {
	return findByIDs(ctx, c, vpcs, func(ctx context.Context, page []string) ([]types.RouteTable, error) {
		return c.findRouteTables(ctx, filter("vpc-id", page...), filter("association.main", "true"))
	}, func(rt types.RouteTable) string { return aws.ToString(rt.VpcId) })
}

// findMainRouteTable returns the main route table of vpc, nil when it has
// none (the VPC is gone).
func (c *Client) findMainRouteTable(ctx context.Context, vpc string) (*types.RouteTable, error) {
	return findOne(ctx, vpc, c.findMainRouteTables)
}

// findDefaultSecurityGroups returns the default security groups of the
// given VPCs, by VPC ID.
func (c *Client) findDefaultSecurityGroups(ctx context.Context, vpcs []string) (map[string]types.SecurityGroup, error) {
	return findByIDs(ctx, c, vpcs, func(ctx context.Context, page []string) ([]types.SecurityGroup, error) {
		return c.findSecurityGroups(ctx, filter("vpc-id", page...), filter("group-name", "default"))
	}, func(sg types.SecurityGroup) string { return aws.ToString(sg.VpcId) })
}

// findSubnets pages through DescribeSubnets.
func (c *Client) findSubnets(ctx context.Context, filters ...types.Filter) ([]types.Subnet, error) {
	var out []types.Subnet
	p := ec2.NewDescribeSubnetsPaginator(c.ec2, &ec2.DescribeSubnetsInput{Filters: filters, MaxResults: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, callErr("ec2:DescribeSubnets", err)
		}
		out = append(out, page.Subnets...)
	}
	return out, nil
}

func subnetID(s types.Subnet) string { return aws.ToString(s.SubnetId) }

// findSubnetsByIDs returns the subnets with the given IDs that exist, by
// ID.
func (c *Client) findSubnetsByIDs(ctx context.Context, ids []string) (map[string]types.Subnet, error) {
	return findByIDs(ctx, c, ids, func(ctx context.Context, page []string) ([]types.Subnet, error) {
		return c.findSubnets(ctx, filter("subnet-id", page...))
	}, subnetID)
}

// findInternetGateways pages through DescribeInternetGateways.
func (c *Client) findInternetGateways(ctx context.Context, filters ...types.Filter) ([]types.InternetGateway, error) {
	var out []types.InternetGateway
	p := ec2.NewDescribeInternetGatewaysPaginator(c.ec2, &ec2.DescribeInternetGatewaysInput{Filters: filters, MaxResults: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, callErr("ec2:DescribeInternetGateways", err)
		}
		out = append(out, page.InternetGateways...)
	}
	return out, nil
}

func gatewayID(g types.InternetGateway) string { return aws.ToString(g.InternetGatewayId) }

// findInternetGatewaysByIDs returns the gateways with the given IDs that
// exist, by ID.
func (c *Client) findInternetGatewaysByIDs(ctx context.Context, ids []string) (map[string]types.InternetGateway, error) {
	return findByIDs(ctx, c, ids, func(ctx context.Context, page []string) ([]types.InternetGateway, error) {
		return c.findInternetGateways(ctx, filter("internet-gateway-id", page...))
	}, gatewayID)
}

// findAddresses makes one DescribeAddresses call (it does not page).
func (c *Client) findAddresses(ctx context.Context, filters ...types.Filter) ([]types.Address, error) {
	out, err := c.ec2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{Filters: filters})
	if err != nil {
		return nil, callErr("ec2:DescribeAddresses", err)
	}
	return out.Addresses, nil
}

func allocationID(a types.Address) string { return aws.ToString(a.AllocationId) }

// findAddressesByIDs returns the elastic IPs with the given allocation
// IDs that exist, by allocation ID.
func (c *Client) findAddressesByIDs(ctx context.Context, ids []string) (map[string]types.Address, error) {
	return findByIDs(ctx, c, ids, func(ctx context.Context, page []string) ([]types.Address, error) {
		return c.findAddresses(ctx, filter("allocation-id", page...))
	}, allocationID)
}

// findNetworkInterfaces pages through DescribeNetworkInterfaces.
func (c *Client) findNetworkInterfaces(ctx context.Context, filters ...types.Filter) ([]types.NetworkInterface, error) {
	var out []types.NetworkInterface
	p := ec2.NewDescribeNetworkInterfacesPaginator(c.ec2, &ec2.DescribeNetworkInterfacesInput{Filters: filters, MaxResults: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, callErr("ec2:DescribeNetworkInterfaces", err)
		}
		out = append(out, page.NetworkInterfaces...)
	}
	return out, nil
}

// tokenFilter finds the objects a create with token tagged.
func tokenFilter(token string) types.Filter { return filter("tag:"+tokenTag, token) }
