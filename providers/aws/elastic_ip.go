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

// ElasticIPType is an EC2 elastic IP address.
const ElasticIPType = "aws.elastic_ip"

func elasticIPSchema() spec.Schema {
	return spec.Schema{
		Type: ElasticIPType,
		Doc:  "An EC2 elastic IP: a public IPv4 address of the account that outlives instances. The instance that uses it names it (aws.instance's elastic_ip argument, its id); this resource only allocates and releases it, and shows where it is associated.",
		Attrs: []spec.Attr{
			{Name: "domain", Kind: spec.KindString, Optional: true, Default: "vpc", ForceNew: true, Doc: `"vpc", the only kind EC2 still allocates.`},
			{Name: "tags", Kind: spec.KindMap, Optional: true, Default: map[string]any{}, Doc: "Tags; change in place."},
			{Name: "id", Kind: spec.KindString, Computed: true, Doc: "The allocation ID, eipalloc-..."},
			{Name: "public_ip", Kind: spec.KindString, Computed: true, Doc: "The address."},
			{Name: "instance_id", Kind: spec.KindString, Computed: true, Doc: "The instance it is associated with now; null when none."},
			{Name: "association_id", Kind: spec.KindString, Computed: true, Doc: "The association with that instance, eipassoc-...; null when none."},
		},
	}
}

// elasticIP is aws.elastic_ip.
type elasticIP struct{ c *Client }

var (
	_ providers.BatchReader = (*elasticIP)(nil)
	_ providers.Importer    = (*elasticIP)(nil)
	_ providers.Adopter     = (*elasticIP)(nil)
)

func (e *elasticIP) client() *Client     { return e.c }
func (e *elasticIP) Schema() spec.Schema { return elasticIPSchema() }

func (e *elasticIP) kind() ec2Kind[types.Address] {
	return ec2Kind[types.Address]{
		c: e.c, noun: "elastic IP", prefix: "eipalloc-",
		find: e.c.findAddressesByIDs,
		tokenIDs: func(ctx context.Context, token string) ([]string, error) {
			addrs, err := e.c.findAddresses(ctx, tokenFilter(token))
			return mapSlice(addrs, allocationID), err
		},
		state: func(a types.Address, _ map[string]any) map[string]any { return elasticIPState(a) },
	}
}

func elasticIPState(a types.Address) map[string]any {
	return map[string]any{
		"id":             allocationID(a),
		"domain":         string(a.Domain),
		"public_ip":      aws.ToString(a.PublicIp),
		"instance_id":    nullable(aws.ToString(a.InstanceId)),
		"association_id": nullable(aws.ToString(a.AssociationId)),
		"tags":           userTags(a.Tags),
	}
}

func (e *elasticIP) Plan(_ context.Context, req providers.PlanRequest) (providers.PlanResponse, error) {
	resp, err := planNet(elasticIPSchema(), req)
	if err != nil {
		return resp, err
	}
	if d, ok := resp.Planned["domain"].(string); ok && d != "vpc" {
		return providers.PlanResponse{}, fmt.Errorf("%s: argument \"domain\" = %q: only \"vpc\" (EC2-Classic addresses are no more)", req.Addr, d)
	}
	return resp, nil
}

func (e *elasticIP) Apply(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	return applyFuncs{create: e.create, update: e.update, delete: e.delete}.apply(ctx, req)
}

// create allocates an address, tagged with the token.
func (e *elasticIP) create(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "create", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	args, tags, err := netArgs(elasticIPSchema(), "create", req)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	out, err := e.c.ec2.AllocateAddress(ctx, &ec2.AllocateAddressInput{
		Domain:            types.DomainTypeVpc,
		TagSpecifications: tagSpecs(types.ResourceTypeElasticIp, tags, req.Token),
	})
	if err != nil {
		return providers.ApplyResponse{}, e.c.fail("create", req.Addr, callErr("ec2:AllocateAddress", err))
	}
	return providers.ApplyResponse{State: map[string]any{
		"id":             aws.ToString(out.AllocationId),
		"domain":         string(out.Domain),
		"public_ip":      aws.ToString(out.PublicIp),
		"instance_id":    nil,
		"association_id": nil,
		"tags":           args["tags"],
	}}, nil
}

// update changes tags, the only thing that changes in place.
func (e *elasticIP) update(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "update", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	id, err := idOf("update", req.Addr, req.Prior)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	args, tags, err := netArgs(elasticIPSchema(), "update", req)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	had, _ := stringMap(req.Addr, "tags", req.Prior["tags"])
	if err := e.c.updateTags(ctx, id, had, tags); err != nil {
		return e.kind().updateFailed(ctx, req.Addr, id, err)
	}
	return providers.ApplyResponse{State: updatedState(req.Prior, args)}, nil
}

// delete disassociates the address from the instance it is associated
// with now (as EC2 says, not the state: the instance may have taken it
// since), then releases it.
func (e *elasticIP) delete(ctx context.Context, req providers.ApplyRequest) error {
	if err := checkCtx(ctx, "delete", req.Addr); err != nil {
		return err
	}
	id, err := idOf("delete", req.Addr, req.Prior)
	if err != nil {
		return err
	}
	a, err := e.kind().one(ctx, id)
	switch {
	case err != nil:
		return e.c.fail("delete", req.Addr, err)
	case a == nil:
		return nil // gone already: a crashed apply deletes again
	}
	if assoc := aws.ToString(a.AssociationId); assoc != "" {
		_, err := e.c.ec2.DisassociateAddress(ctx, &ec2.DisassociateAddressInput{AssociationId: aws.String(assoc)})
		if err != nil && !isNotFound(err) {
			return e.c.fail("delete", req.Addr, callErr("ec2:DisassociateAddress", err))
		}
	}
	// EC2 may still see the address in use for a moment after it was
	// disassociated.
	err = e.c.whileInUse(ctx, "ec2:ReleaseAddress", func() error {
		_, err := e.c.ec2.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: aws.String(id)})
		return callErr("ec2:ReleaseAddress", err)
	}, "InvalidIPAddress.InUse")
	if err != nil && !isNotFound(err) {
		return e.c.fail("delete", req.Addr, err)
	}
	return nil
}

func (e *elasticIP) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	return e.kind().read(ctx, req)
}

// ReadMany reads the addresses with one DescribeAddresses per page of
// allocation IDs.
func (e *elasticIP) ReadMany(ctx context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, error) {
	return e.kind().readMany(ctx, reqs)
}

// Import adopts an elastic IP by its allocation ID.
func (e *elasticIP) Import(ctx context.Context, req providers.ImportRequest) (providers.ImportResponse, error) {
	return e.kind().importID(ctx, req)
}

// Adopt finds the address a create with req.Token allocated, by its token
// tag.
func (e *elasticIP) Adopt(ctx context.Context, req providers.AdoptRequest) (providers.ReadResponse, error) {
	return e.kind().adopt(ctx, req)
}
