package aws

import (
	"context"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// The finders of EC2 objects, shared by the EC2 resource types. They look
// objects up with filters rather than ID lists: DescribeKeyPairs and
// DescribeSecurityGroups fail the whole call when one of the IDs listed
// no longer exists, while a filter simply leaves it out, which is what a
// batched refresh needs. Their errors are callErrors naming the action;
// the resource wraps them with its address.

func filter(name string, values ...string) types.Filter {
	return types.Filter{Name: aws.String(name), Values: values}
}

// chunks splits ids into pages of at most n.
func chunks(ids []string, n int) [][]string {
	var out [][]string
	for len(ids) > 0 {
		k := min(n, len(ids))
		out = append(out, ids[:k])
		ids = ids[k:]
	}
	return out
}

// findKeyPairs makes one DescribeKeyPairs call (it does not page), public
// keys included.
func (c *Client) findKeyPairs(ctx context.Context, filters ...types.Filter) ([]types.KeyPairInfo, error) {
	out, err := c.ec2.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{Filters: filters, IncludePublicKey: aws.Bool(true)})
	if err != nil {
		return nil, callErr("ec2:DescribeKeyPairs", err)
	}
	return out.KeyPairs, nil
}

// findByIDs looks ids up with find, one call per page of c.pageSize IDs,
// and indexes what exists by key.
func findByIDs[T any](ctx context.Context, c *Client, ids []string, find func(context.Context, []string) ([]T, error), key func(T) string) (map[string]T, error) {
	found := map[string]T{}
	for _, page := range chunks(uniq(ids), c.pageSize) {
		objs, err := find(ctx, page)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			found[key(o)] = o
		}
	}
	return found, nil
}

// findKeyPairsByIDs returns the key pairs with the given IDs that exist,
// by ID, in one call per page of IDs.
func (c *Client) findKeyPairsByIDs(ctx context.Context, ids []string) (map[string]types.KeyPairInfo, error) {
	return findByIDs(ctx, c, ids, func(ctx context.Context, page []string) ([]types.KeyPairInfo, error) {
		return c.findKeyPairs(ctx, filter("key-pair-id", page...))
	}, func(kp types.KeyPairInfo) string { return aws.ToString(kp.KeyPairId) })
}

// findKeyPairByName returns the key pair named name, nil when none is.
func (c *Client) findKeyPairByName(ctx context.Context, name string) (*types.KeyPairInfo, error) {
	kps, err := c.findKeyPairs(ctx, filter("key-name", name))
	if err != nil {
		return nil, err
	}
	for _, kp := range kps {
		if aws.ToString(kp.KeyName) == name {
			return &kp, nil
		}
	}
	return nil, nil
}

// findKeyPairByToken returns the oldest key pair a create with token
// made, nil when none did.
func (c *Client) findKeyPairByToken(ctx context.Context, token string) (*types.KeyPairInfo, error) {
	kps, err := c.findKeyPairs(ctx, filter("tag:"+tokenTag, token))
	if err != nil || len(kps) == 0 {
		return nil, err
	}
	slices.SortStableFunc(kps, func(a, b types.KeyPairInfo) int {
		return aws.ToTime(a.CreateTime).Compare(aws.ToTime(b.CreateTime))
	})
	return &kps[0], nil
}

// findSecurityGroups pages through DescribeSecurityGroups.
func (c *Client) findSecurityGroups(ctx context.Context, filters ...types.Filter) ([]types.SecurityGroup, error) {
	var out []types.SecurityGroup
	p := ec2.NewDescribeSecurityGroupsPaginator(c.ec2, &ec2.DescribeSecurityGroupsInput{Filters: filters, MaxResults: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, callErr("ec2:DescribeSecurityGroups", err)
		}
		out = append(out, page.SecurityGroups...)
	}
	return out, nil
}

// findSecurityGroupsByIDs returns the security groups with the given IDs
// that exist, by ID, in one call per page of IDs.
func (c *Client) findSecurityGroupsByIDs(ctx context.Context, ids []string) (map[string]types.SecurityGroup, error) {
	return findByIDs(ctx, c, ids, func(ctx context.Context, page []string) ([]types.SecurityGroup, error) {
		return c.findSecurityGroups(ctx, filter("group-id", page...))
	}, func(sg types.SecurityGroup) string { return aws.ToString(sg.GroupId) })
}

// findSecurityGroupByID returns one security group, nil when it does not
// exist.
func (c *Client) findSecurityGroupByID(ctx context.Context, id string) (*types.SecurityGroup, error) {
	return findOne(ctx, id, c.findSecurityGroupsByIDs)
}

// findOne returns what byIDs finds of id, nil when it finds nothing.
func findOne[T any](ctx context.Context, id string, byIDs func(context.Context, []string) (map[string]T, error)) (*T, error) {
	found, err := byIDs(ctx, []string{id})
	if o, ok := found[id]; ok {
		return &o, err
	}
	return nil, err
}

// findSecurityGroupByName returns the group called name in vpc ("" for
// any VPC), nil when there is none.
func (c *Client) findSecurityGroupByName(ctx context.Context, vpc, name string) (*types.SecurityGroup, error) {
	filters := []types.Filter{filter("group-name", name)}
	if vpc != "" {
		filters = append(filters, filter("vpc-id", vpc))
	}
	sgs, err := c.findSecurityGroups(ctx, filters...)
	if err != nil || len(sgs) == 0 {
		return nil, err
	}
	return &sgs[0], nil
}

// findSecurityGroupByToken returns a security group a create with token
// made (the first by ID when moto made several), nil when none did.
func (c *Client) findSecurityGroupByToken(ctx context.Context, token string) (*types.SecurityGroup, error) {
	sgs, err := c.findSecurityGroups(ctx, filter("tag:"+tokenTag, token))
	if err != nil || len(sgs) == 0 {
		return nil, err
	}
	slices.SortFunc(sgs, func(a, b types.SecurityGroup) int {
		return strings.Compare(aws.ToString(a.GroupId), aws.ToString(b.GroupId))
	})
	return &sgs[0], nil
}

// uniq returns ids sorted, without duplicates and empty strings.
func uniq(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > 0 && out[0] == "" {
		out = out[1:]
	}
	return out
}
