package aws

import (
	"context"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// The finders of EBS volumes, by filter as ec2_find.go's (a volume gone
// drops out of the answer instead of failing it). A volume being deleted
// or deleted counts as gone.

// findVolumes pages through DescribeVolumes.
func (c *Client) findVolumes(ctx context.Context, filters ...types.Filter) ([]types.Volume, error) {
	var out []types.Volume
	p := ec2.NewDescribeVolumesPaginator(c.ec2, &ec2.DescribeVolumesInput{Filters: filters, MaxResults: aws.Int32(500)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, callErr("ec2:DescribeVolumes", err)
		}
		for _, v := range page.Volumes {
			if v.State != types.VolumeStateDeleting && v.State != types.VolumeStateDeleted {
				out = append(out, v)
			}
		}
	}
	return out, nil
}

// findVolumesByIDs returns the volumes with the given IDs that exist, by
// ID, in one call per page of IDs.
func (c *Client) findVolumesByIDs(ctx context.Context, ids []string) (map[string]types.Volume, error) {
	return findByIDs(ctx, c, ids, func(ctx context.Context, page []string) ([]types.Volume, error) {
		return c.findVolumes(ctx, filter("volume-id", page...))
	}, func(v types.Volume) string { return aws.ToString(v.VolumeId) })
}

// findVolumeByID returns one volume, nil when it does not exist.
func (c *Client) findVolumeByID(ctx context.Context, id string) (*types.Volume, error) {
	return findOne(ctx, id, c.findVolumesByIDs)
}

// findVolumeByToken returns the oldest volume a create with token made
// (moto ignores ClientToken and may have made several), nil when none
// did.
func (c *Client) findVolumeByToken(ctx context.Context, token string) (*types.Volume, error) {
	vs, err := c.findVolumes(ctx, filter("tag:"+tokenTag, token))
	if err != nil || len(vs) == 0 {
		return nil, err
	}
	slices.SortStableFunc(vs, func(a, b types.Volume) int {
		if n := aws.ToTime(a.CreateTime).Compare(aws.ToTime(b.CreateTime)); n != 0 {
			return n
		}
		return strings.Compare(aws.ToString(a.VolumeId), aws.ToString(b.VolumeId))
	})
	return &vs[0], nil
}
