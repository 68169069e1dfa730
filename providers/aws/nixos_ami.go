package aws

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// nixosOwner is the AWS account of the NixOS project, which publishes
// the NixOS images as nixos/RELEASE.REVISION-ARCH-linux.
const nixosOwner = "427812963091"

// planLookups holds what plans of one configuration looked up, so that
// planning 200 instances of one release and type asks AWS once. Failed
// lookups are not kept. Safe for concurrent use.
type planLookups struct {
	mu      sync.Mutex
	images  map[string]string // "release/arch" -> AMI ID
	offered map[string]bool   // instance type -> offered in the region
}

func (l *planLookups) image(key string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	id, ok := l.images[key]
	return id, ok
}

func (l *planLookups) setImage(key, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.images == nil {
		l.images = map[string]string{}
	}
	l.images[key] = id
}

func (l *planLookups) offering(typ string) (bool, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ok, known := l.offered[typ]
	return ok, known
}

func (l *planLookups) setOffering(typ string, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.offered == nil {
		l.offered = map[string]bool{}
	}
	l.offered[typ] = ok
}

// nixosImage returns the newest NixOS image of release for arch in the
// configured region: DescribeImages of the NixOS project's account, by
// name and architecture, the latest CreationDate first.
func (r *instance) nixosImage(ctx context.Context, addr, release, arch string) (string, error) {
	key := release + "/" + arch
	if id, ok := r.lookups.image(key); ok {
		return id, nil
	}
	out, err := r.c.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{
		Owners: []string{nixosOwner},
		Filters: []types.Filter{
			filter("name", "nixos/"+release+"*"),
			filter("architecture", arch),
			filter("state", "available"),
		},
	})
	if err != nil {
		return "", r.c.fail("plan", addr, callErr("ec2:DescribeImages", err))
	}
	var best *types.Image
	var bestTime time.Time
	for i, img := range out.Images {
		// nixos/25.1* must not take 25.11 for 25.1.
		rest := strings.TrimPrefix(aws.ToString(img.Name), "nixos/"+release)
		if rest != "" && rest[0] >= '0' && rest[0] <= '9' {
			continue
		}
		t, _ := time.Parse(time.RFC3339, aws.ToString(img.CreationDate))
		if best == nil || t.After(bestTime) {
			best, bestTime = &out.Images[i], t
		}
	}
	if best == nil {
		return "", fmt.Errorf("%s: no NixOS image of release %q for %s in region %s (images of the NixOS project, account %s, named nixos/%s*); list the releases there with: aws ec2 describe-images --region %s --owners %s --filters Name=architecture,Values=%s --query 'Images[].Name', or give ami",
			addr, release, arch, r.c.region, nixosOwner, release, r.c.region, nixosOwner, arch)
	}
	id := aws.ToString(best.ImageId)
	r.lookups.setImage(key, id)
	return id, nil
}

// checkInstanceType fails when the region does not offer typ
// (DescribeInstanceTypeOfferings, once per type and configuration). When
// AWS cannot be asked (a policy without the permission), the check is
// left to RunInstances.
func (r *instance) checkInstanceType(ctx context.Context, addr, typ string) error {
	ok, known := r.lookups.offering(typ)
	if !known {
		out, err := r.c.ec2.DescribeInstanceTypeOfferings(ctx, &ec2.DescribeInstanceTypeOfferingsInput{
			LocationType: types.LocationTypeRegion,
			Filters:      []types.Filter{filter("instance-type", typ)},
		})
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("plan %s: %w", addr, ctx.Err())
			}
			return nil
		}
		ok = len(out.InstanceTypeOfferings) > 0
		r.lookups.setOffering(typ, ok)
	}
	if !ok {
		return fmt.Errorf("%s: argument \"instance_type\" = %q: region %s does not offer this instance type; list the types it offers with aws ec2 describe-instance-type-offerings --region %s", addr, typ, r.c.region, r.c.region)
	}
	return nil
}

// rootDevice is the root device name of an image ("/dev/xvda"), for a
// block device mapping that sizes the root volume.
func (c *Client) rootDevice(ctx context.Context, ami string) (string, error) {
	out, err := c.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{ami}})
	if err != nil {
		return "", callErr("ec2:DescribeImages", err)
	}
	if len(out.Images) == 0 || aws.ToString(out.Images[0].RootDeviceName) == "" {
		return "", fmt.Errorf("image %s is not in region %s (or has no root device)", ami, c.region)
	}
	return aws.ToString(out.Images[0].RootDeviceName), nil
}
