package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// SubnetType is an EC2 subnet.
const SubnetType = "aws.subnet"

func subnetSchema() spec.Schema {
	return spec.Schema{
		Type: SubnetType,
		Doc:  "A subnet of a VPC in one availability zone; instances are launched into subnets.",
		Attrs: []spec.Attr{
			{Name: "vpc_id", Kind: spec.KindString, Required: true, ForceNew: true, Doc: "The VPC (aws.vpc.NAME.id)."},
			{Name: "cidr_block", Kind: spec.KindString, Required: true, ForceNew: true, Doc: `Its IPv4 network, /16 to /28, inside the VPC's and overlapping no other subnet of it, such as "10.0.1.0/24".`},
			{Name: "availability_zone", Kind: spec.KindString, Optional: true, Computed: true, ForceNew: true, Doc: `The zone, such as "eu-west-1a"; EC2 chooses one when left out.`},
			{Name: "map_public_ip_on_launch", Kind: spec.KindBool, Optional: true, Default: false, Doc: "Whether instances launched here get a public IPv4 address; changes in place."},
			{Name: "tags", Kind: spec.KindMap, Optional: true, Default: map[string]any{}, Doc: "Tags; change in place."},
			{Name: "id", Kind: spec.KindString, Computed: true, Doc: "The subnet ID, subnet-..."},
		},
	}
}

// subnet is aws.subnet.
type subnet struct{ c *Client }

var (
	_ providers.BatchReader = (*subnet)(nil)
	_ providers.Importer    = (*subnet)(nil)
	_ providers.Adopter     = (*subnet)(nil)
)

func (s *subnet) client() *Client     { return s.c }
func (s *subnet) Schema() spec.Schema { return subnetSchema() }

func (s *subnet) kind() ec2Kind[types.Subnet] {
	return ec2Kind[types.Subnet]{
		c: s.c, noun: "subnet", prefix: "subnet-",
		find: s.c.findSubnetsByIDs,
		tokenIDs: func(ctx context.Context, token string) ([]string, error) {
			subnets, err := s.c.findSubnets(ctx, tokenFilter(token))
			return mapSlice(subnets, subnetID), err
		},
		state: func(o types.Subnet, _ map[string]any) map[string]any { return subnetState(o) },
	}
}

func subnetState(o types.Subnet) map[string]any {
	return map[string]any{
		"id":                      aws.ToString(o.SubnetId),
		"vpc_id":                  aws.ToString(o.VpcId),
		"cidr_block":              aws.ToString(o.CidrBlock),
		"availability_zone":       aws.ToString(o.AvailabilityZone),
		"map_public_ip_on_launch": aws.ToBool(o.MapPublicIpOnLaunch),
		"tags":                    userTags(o.Tags),
	}
}

func (s *subnet) Plan(_ context.Context, req providers.PlanRequest) (providers.PlanResponse, error) {
	resp, err := planNet(subnetSchema(), req)
	if err != nil {
		return resp, err
	}
	if err := checkCIDR(req.Addr, "cidr_block", resp.Planned["cidr_block"], 16, 28); err != nil {
		return providers.PlanResponse{}, err
	}
	return resp, nil
}

func (s *subnet) Apply(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	return applyFuncs{create: s.create, update: s.update, delete: s.delete}.apply(ctx, req)
}

// create makes the subnet, tagged with the token, then sets
// map_public_ip_on_launch when EC2 chose otherwise (moto maps public IPs
// in the first subnet of a zone, and puts a subnet without a zone in
// us-east-1a whatever the region). A failure after the subnet exists
// returns it as it is, so that the engine records it (tainted).
func (s *subnet) create(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "create", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	args, tags, err := netArgs(subnetSchema(), "create", req)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	in := &ec2.CreateSubnetInput{
		VpcId:             aws.String(str(args, "vpc_id")),
		CidrBlock:         aws.String(str(args, "cidr_block")),
		TagSpecifications: tagSpecs(types.ResourceTypeSubnet, tags, req.Token),
	}
	if az := str(args, "availability_zone"); az != "" {
		in.AvailabilityZone = aws.String(az)
	}
	out, err := s.c.ec2.CreateSubnet(ctx, in)
	if err != nil {
		re := s.c.fail("create", req.Addr, callErr("ec2:CreateSubnet", err)).(*ResourceError)
		switch errorCode(err) {
		case "InvalidSubnet.Conflict":
			re.Hint = fmt.Sprintf("cidr_block %s overlaps another subnet of %s: choose another (aws ec2 describe-subnets --filters Name=vpc-id,Values=%s lists them)", *in.CidrBlock, *in.VpcId, *in.VpcId)
		case "InvalidSubnet.Range":
			re.Hint = fmt.Sprintf("cidr_block %s is not inside the network of %s", *in.CidrBlock, *in.VpcId)
		}
		return providers.ApplyResponse{}, re
	}
	id := aws.ToString(out.Subnet.SubnetId)
	o, err := s.kind().fresh(ctx, id)
	want := boolArg(args, "map_public_ip_on_launch")
	if err == nil && aws.ToBool(o.MapPublicIpOnLaunch) != want {
		err = s.setMapPublicIP(ctx, id, want)
		o.MapPublicIpOnLaunch = aws.Bool(want)
	}
	if err != nil {
		return s.kind().createFailed(ctx, req.Addr, id, args, err, "availability_zone")
	}
	return providers.ApplyResponse{State: subnetState(*o)}, nil
}

func (s *subnet) setMapPublicIP(ctx context.Context, id string, on bool) error {
	_, err := s.c.ec2.ModifySubnetAttribute(ctx, &ec2.ModifySubnetAttributeInput{
		SubnetId:            aws.String(id),
		MapPublicIpOnLaunch: &types.AttributeBooleanValue{Value: aws.Bool(on)},
	})
	return callErr("ec2:ModifySubnetAttribute", err)
}

// update changes tags and map_public_ip_on_launch in place.
func (s *subnet) update(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "update", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	id, err := idOf("update", req.Addr, req.Prior)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	args, tags, err := netArgs(subnetSchema(), "update", req)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	had, _ := stringMap(req.Addr, "tags", req.Prior["tags"])
	err = s.c.updateTags(ctx, id, had, tags)
	if want := boolArg(args, "map_public_ip_on_launch"); err == nil && want != boolArg(req.Prior, "map_public_ip_on_launch") {
		err = s.setMapPublicIP(ctx, id, want)
	}
	if err != nil {
		return s.kind().updateFailed(ctx, req.Addr, id, err)
	}
	return providers.ApplyResponse{State: updatedState(req.Prior, args)}, nil
}

// delete deletes the subnet once nothing uses it any more (the network
// interfaces of terminated instances go away some time after them; see
// ec2_dependency.go).
func (s *subnet) delete(ctx context.Context, req providers.ApplyRequest) error {
	if err := checkCtx(ctx, "delete", req.Addr); err != nil {
		return err
	}
	id, err := idOf("delete", req.Addr, req.Prior)
	if err != nil {
		return err
	}
	err = s.c.whileInUse(ctx, "ec2:DeleteSubnet", func() error {
		_, err := s.c.ec2.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(id)})
		return callErr("ec2:DeleteSubnet", err)
	})
	switch {
	case err == nil || isNotFound(err):
		return nil // gone already: a crashed apply deletes again
	case errorCode(err) == "DependencyViolation":
		return s.c.inUse(ctx, "delete", req.Addr, err, "subnet", id, s.c.subnetDependents)
	default:
		return s.c.fail("delete", req.Addr, err)
	}
}

// subnetDependents lists the network interfaces in subnet id, with the
// instance each is attached to.
func (c *Client) subnetDependents(ctx context.Context, id string) ([]string, error) {
	enis, err := c.findNetworkInterfaces(ctx, filter("subnet-id", id))
	return mapSlice(enis, func(e types.NetworkInterface) string {
		if e.Attachment != nil && e.Attachment.InstanceId != nil {
			return aws.ToString(e.NetworkInterfaceId) + " (of " + aws.ToString(e.Attachment.InstanceId) + ")"
		}
		return aws.ToString(e.NetworkInterfaceId)
	}), err
}

func (s *subnet) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	return s.kind().read(ctx, req)
}

// ReadMany reads the subnets with one DescribeSubnets per page of IDs.
func (s *subnet) ReadMany(ctx context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, error) {
	return s.kind().readMany(ctx, reqs)
}

// Import adopts a subnet by its ID.
func (s *subnet) Import(ctx context.Context, req providers.ImportRequest) (providers.ImportResponse, error) {
	return s.kind().importID(ctx, req)
}

// Adopt finds the subnet a create with req.Token made, by its token tag.
func (s *subnet) Adopt(ctx context.Context, req providers.AdoptRequest) (providers.ReadResponse, error) {
	return s.kind().adopt(ctx, req)
}
