package aws

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// VpcType is an EC2 VPC.
const VpcType = "aws.vpc"

func vpcSchema() spec.Schema {
	return spec.Schema{
		Type: VpcType,
		Doc:  "An EC2 VPC (virtual private cloud): an IPv4 network of the region that subnets, gateways and security groups belong to.",
		Attrs: []spec.Attr{
			{Name: "cidr_block", Kind: spec.KindString, Required: true, ForceNew: true, Doc: `Its IPv4 network, /16 to /28, such as "10.0.0.0/16"; a change replaces the VPC.`},
			{Name: "enable_dns_support", Kind: spec.KindBool, Optional: true, Default: true, Doc: "Whether the Amazon DNS server answers in the VPC; changes in place."},
			{Name: "enable_dns_hostnames", Kind: spec.KindBool, Optional: true, Default: false, Doc: "Whether instances with public IPs get public DNS names (needs enable_dns_support); changes in place."},
			{Name: "tags", Kind: spec.KindMap, Optional: true, Default: map[string]any{}, Doc: "Tags; change in place."},
			{Name: "id", Kind: spec.KindString, Computed: true, Doc: "The VPC ID, vpc-..."},
			{Name: "default_security_group_id", Kind: spec.KindString, Computed: true, Doc: "The security group EC2 made with the VPC."},
			{Name: "main_route_table_id", Kind: spec.KindString, Computed: true, Doc: "The route table of the subnets that have no other; aws.internet_gateway(route_default = True) adds its default route there."},
		},
	}
}

// vpc is aws.vpc.
type vpc struct{ c *Client }

var (
	_ providers.BatchReader = (*vpc)(nil)
	_ providers.Importer    = (*vpc)(nil)
	_ providers.Adopter     = (*vpc)(nil)
)

func (v *vpc) client() *Client     { return v.c }
func (v *vpc) Schema() spec.Schema { return vpcSchema() }

// vpcView is what a VPC's state is made of: DescribeVpcs shows neither
// its DNS attributes nor its main route table or default group.
type vpcView struct {
	vpc       types.Vpc
	dns       vpcDNS
	mainRT    string
	defaultSG string
}

func (v *vpc) kind() ec2Kind[vpcView] {
	return ec2Kind[vpcView]{
		c: v.c, noun: "VPC", prefix: "vpc-",
		find: v.c.findVpcViews,
		tokenIDs: func(ctx context.Context, token string) ([]string, error) {
			vpcs, err := v.c.findVpcs(ctx, tokenFilter(token))
			return mapSlice(vpcs, vpcID), err
		},
		state: func(o vpcView, _ map[string]any) map[string]any { return vpcState(o) },
	}
}

// findVpcViews reads the VPCs with the given IDs that exist: per page one
// DescribeVpcs, one DescribeRouteTables and one DescribeSecurityGroups,
// and two DescribeVpcAttribute per VPC, which EC2 offers no batch of.
func (c *Client) findVpcViews(ctx context.Context, ids []string) (map[string]vpcView, error) {
	vpcs, err := c.findVpcsByIDs(ctx, ids)
	if err != nil || len(vpcs) == 0 {
		return nil, err
	}
	found := mapKeys(vpcs)
	rts, err := c.findMainRouteTables(ctx, found)
	if err != nil {
		return nil, err
	}
	sgs, err := c.findDefaultSecurityGroups(ctx, found)
	if err != nil {
		return nil, err
	}
	out := map[string]vpcView{}
	for _, id := range found {
		dns, err := c.findVpcDNS(ctx, id)
		switch {
		case isNotFound(err):
			continue // deleted since the DescribeVpcs
		case err != nil:
			return nil, err
		}
		rt, sg := rts[id], sgs[id]
		out[id] = vpcView{vpc: vpcs[id], dns: dns, mainRT: aws.ToString(rt.RouteTableId), defaultSG: aws.ToString(sg.GroupId)}
	}
	return out, nil
}

func vpcState(o vpcView) map[string]any {
	return map[string]any{
		"id":                        aws.ToString(o.vpc.VpcId),
		"cidr_block":                aws.ToString(o.vpc.CidrBlock),
		"enable_dns_support":        o.dns.support,
		"enable_dns_hostnames":      o.dns.hostnames,
		"tags":                      userTags(o.vpc.Tags),
		"default_security_group_id": nullable(o.defaultSG),
		"main_route_table_id":       nullable(o.mainRT),
	}
}

func (v *vpc) Plan(_ context.Context, req providers.PlanRequest) (providers.PlanResponse, error) {
	resp, err := planNet(vpcSchema(), req)
	if err != nil {
		return resp, err
	}
	p := resp.Planned
	if err := checkCIDR(req.Addr, "cidr_block", p["cidr_block"], 16, 28); err != nil {
		return providers.PlanResponse{}, err
	}
	if p["enable_dns_hostnames"] == true && p["enable_dns_support"] == false {
		return providers.PlanResponse{}, fmt.Errorf("%s: enable_dns_hostnames = True needs enable_dns_support = True (EC2 refuses it otherwise)", req.Addr)
	}
	return resp, nil
}

// checkCIDR checks an IPv4 network argument, when known: a network
// address, with a prefix length from shortest to longest.
func checkCIDR(addr, name string, v any, shortest, longest int) error {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	p, err := netip.ParsePrefix(s)
	switch {
	case err != nil || !p.Addr().Is4():
		return fmt.Errorf("%s: argument %q = %q is not an IPv4 network such as \"10.0.0.0/16\"", addr, name, s)
	case p.Masked() != p:
		return fmt.Errorf("%s: argument %q = %q has host bits set: write %s", addr, name, s, p.Masked())
	case p.Bits() < shortest || p.Bits() > longest:
		return fmt.Errorf("%s: argument %q = %q: EC2 takes /%d to /%d networks", addr, name, s, shortest, longest)
	}
	return nil
}

func (v *vpc) Apply(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	return applyFuncs{create: v.create, update: v.update, delete: v.delete}.apply(ctx, req)
}

// create makes the VPC, tagged with the token, then sets its DNS
// attributes. A failure after the VPC exists returns it as it is, so
// that the engine records it (tainted).
func (v *vpc) create(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "create", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	args, tags, err := netArgs(vpcSchema(), "create", req)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	out, err := v.c.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{
		CidrBlock:         aws.String(str(args, "cidr_block")),
		TagSpecifications: tagSpecs(types.ResourceTypeVpc, tags, req.Token),
	})
	if err != nil {
		return providers.ApplyResponse{}, v.c.fail("create", req.Addr, callErr("ec2:CreateVpc", err))
	}
	id := aws.ToString(out.Vpc.VpcId)
	o, err := v.kind().fresh(ctx, id)
	if err == nil {
		err = v.setDNS(ctx, id, o.dns, dnsArgs(args))
	}
	if err != nil {
		return v.kind().createFailed(ctx, req.Addr, id, args, err, "default_security_group_id", "main_route_table_id")
	}
	o.dns = dnsArgs(args)
	return providers.ApplyResponse{State: vpcState(*o)}, nil
}

func dnsArgs(args map[string]any) vpcDNS {
	return vpcDNS{support: boolArg(args, "enable_dns_support"), hostnames: boolArg(args, "enable_dns_hostnames")}
}

// setDNS changes the DNS attributes of VPC id from had to want, one call
// per attribute that changes (EC2 takes one per call), in an order EC2
// accepts: support on before hostnames, hostnames off before support.
func (v *vpc) setDNS(ctx context.Context, id string, had, want vpcDNS) error {
	set := func(in *ec2.ModifyVpcAttributeInput) error {
		in.VpcId = aws.String(id)
		_, err := v.c.ec2.ModifyVpcAttribute(ctx, in)
		return callErr("ec2:ModifyVpcAttribute", err)
	}
	on := func(b bool) *types.AttributeBooleanValue { return &types.AttributeBooleanValue{Value: aws.Bool(b)} }
	if want.support && !had.support {
		if err := set(&ec2.ModifyVpcAttributeInput{EnableDnsSupport: on(true)}); err != nil {
			return err
		}
	}
	if want.hostnames != had.hostnames {
		if err := set(&ec2.ModifyVpcAttributeInput{EnableDnsHostnames: on(want.hostnames)}); err != nil {
			return err
		}
	}
	if !want.support && had.support {
		return set(&ec2.ModifyVpcAttributeInput{EnableDnsSupport: on(false)})
	}
	return nil
}

// update changes tags and DNS attributes in place.
func (v *vpc) update(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "update", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	id, err := idOf("update", req.Addr, req.Prior)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	args, tags, err := netArgs(vpcSchema(), "update", req)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	had, _ := stringMap(req.Addr, "tags", req.Prior["tags"])
	err = v.c.updateTags(ctx, id, had, tags)
	if err == nil {
		err = v.setDNS(ctx, id, dnsArgs(req.Prior), dnsArgs(args))
	}
	if err != nil {
		return v.kind().updateFailed(ctx, req.Addr, id, err)
	}
	return providers.ApplyResponse{State: updatedState(req.Prior, args)}, nil
}

// delete deletes the VPC once nothing uses it any more (see
// ec2_dependency.go); EC2 deletes its main route table and default
// security group with it. moto is laxer than AWS here: it refuses only
// while subnets remain, and deletes a VPC that still has an internet
// gateway attached or security groups of its own, which AWS refuses;
// the tests rely on the subnet case only.
func (v *vpc) delete(ctx context.Context, req providers.ApplyRequest) error {
	if err := checkCtx(ctx, "delete", req.Addr); err != nil {
		return err
	}
	id, err := idOf("delete", req.Addr, req.Prior)
	if err != nil {
		return err
	}
	err = v.c.whileInUse(ctx, "ec2:DeleteVpc", func() error {
		_, err := v.c.ec2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(id)})
		return callErr("ec2:DeleteVpc", err)
	})
	switch {
	case err == nil || isNotFound(err):
		return nil // gone already: a crashed apply deletes again
	case errorCode(err) == "DependencyViolation":
		return v.c.inUse(ctx, "delete", req.Addr, err, "VPC", id, v.c.vpcDependents)
	default:
		return v.c.fail("delete", req.Addr, err)
	}
}

// vpcDependents lists what keeps VPC id from being deleted: subnets,
// attached internet gateways, security groups but the default one.
func (c *Client) vpcDependents(ctx context.Context, id string) ([]string, error) {
	subnets, err := c.findSubnets(ctx, filter("vpc-id", id))
	if err != nil {
		return nil, err
	}
	igws, err := c.findInternetGateways(ctx, filter("attachment.vpc-id", id))
	if err != nil {
		return nil, err
	}
	sgs, err := c.findSecurityGroups(ctx, filter("vpc-id", id))
	if err != nil {
		return nil, err
	}
	out := append(mapSlice(subnets, subnetID), mapSlice(igws, gatewayID)...)
	for _, sg := range sgs {
		if aws.ToString(sg.GroupName) != "default" {
			out = append(out, aws.ToString(sg.GroupId))
		}
	}
	return out, nil
}

func (v *vpc) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	return v.kind().read(ctx, req)
}

// ReadMany reads the VPCs a page of IDs at a time (findVpcViews).
func (v *vpc) ReadMany(ctx context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, error) {
	return v.kind().readMany(ctx, reqs)
}

// Import adopts a VPC by its ID.
func (v *vpc) Import(ctx context.Context, req providers.ImportRequest) (providers.ImportResponse, error) {
	return v.kind().importID(ctx, req)
}

// Adopt finds the VPC a create with req.Token made, by its token tag.
func (v *vpc) Adopt(ctx context.Context, req providers.AdoptRequest) (providers.ReadResponse, error) {
	return v.kind().adopt(ctx, req)
}
