package aws

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// bucketReads bounds the buckets read at once by one ReadMany: S3 has no
// call that describes many buckets (ListBuckets gives names and regions
// only, and needs s3:ListAllMyBuckets), so each bucket costs its own
// calls; eight at a time keeps a refresh of hundreds of buckets short
// without a burst S3 would throttle, inside the configuration's Limit.
const bucketReads = 8

// bucket is what S3 says of one bucket, as a read gathers it.
type bucket struct {
	name       string
	versioning bool
	tags       []types.Tag // all of them, ferry's own too
	pab        *types.PublicAccessBlockConfiguration
	policy     string // "" when the bucket has none
}

// findBucket reads one bucket in 4 calls: GetBucketVersioning (which also
// says whether the bucket exists: a bucket that does not costs that one
// call), GetBucketTagging, GetPublicAccessBlock and GetBucketPolicy. nil
// when it does not exist.
func (c *Client) findBucket(ctx context.Context, name string) (*bucket, error) {
	v, err := c.s3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(name)})
	if errorCode(err) == "NoSuchBucket" {
		return nil, nil
	}
	if err != nil {
		return nil, callErr("s3:GetBucketVersioning", err)
	}
	b := &bucket{name: name, versioning: v.Status == types.BucketVersioningStatusEnabled}
	if b.tags, err = c.bucketTags(ctx, name); err != nil {
		return nil, err
	}
	pab, err := c.s3.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(name)})
	switch {
	case errorCode(err) == "NoSuchPublicAccessBlockConfiguration":
		b.pab = &types.PublicAccessBlockConfiguration{} // nothing blocked
	case err != nil:
		return nil, callErr("s3:GetPublicAccessBlock", err)
	default:
		b.pab = pab.PublicAccessBlockConfiguration
	}
	pol, err := c.s3.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(name)})
	switch {
	case errorCode(err) == "NoSuchBucketPolicy":
	case err != nil:
		return nil, callErr("s3:GetBucketPolicy", err)
	default:
		b.policy = aws.ToString(pol.Policy)
	}
	return b, nil
}

// bucketTags returns a bucket's tags, none when it has none.
func (c *Client) bucketTags(ctx context.Context, name string) ([]types.Tag, error) {
	out, err := c.s3.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(name)})
	switch {
	case errorCode(err) == "NoSuchTagSet":
		return nil, nil
	case err != nil:
		return nil, callErr("s3:GetBucketTagging", err)
	}
	return out.TagSet, nil
}

// findBuckets reads the named buckets, bucketReads at a time, by name;
// a bucket that does not exist is left out. The first error stops the
// reads.
func (c *Client) findBuckets(ctx context.Context, names []string) (map[string]*bucket, error) {
	names = uniq(names)
	found := make([]*bucket, len(names))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(bucketReads)
	for i, name := range names {
		g.Go(func() error {
			b, err := c.findBucket(gctx, name)
			found[i] = b
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make(map[string]*bucket, len(names))
	for _, b := range found {
		if b != nil {
			out[b.name] = b
		}
	}
	return out, nil
}

// emptyBucket deletes every object version and delete marker of a
// bucket: one ListObjectVersions and one DeleteObjects per 1,000.
func (c *Client) emptyBucket(ctx context.Context, name string) error {
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(name)}
	for {
		page, err := c.s3.ListObjectVersions(ctx, in)
		if err != nil {
			return callErr("s3:ListObjectVersions", err)
		}
		var ids []types.ObjectIdentifier
		for _, v := range page.Versions {
			ids = append(ids, types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
		}
		for _, m := range page.DeleteMarkers {
			ids = append(ids, types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
		}
		for part := range slices.Chunk(ids, 1000) {
			out, err := c.s3.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(name), Delete: &types.Delete{Objects: part, Quiet: aws.Bool(true)}})
			if err != nil {
				return callErr("s3:DeleteObjects", err)
			}
			if len(out.Errors) > 0 {
				e := out.Errors[0]
				return callErr("s3:DeleteObjects", &objectError{key: aws.ToString(e.Key), code: aws.ToString(e.Code), msg: aws.ToString(e.Message), n: len(out.Errors)})
			}
		}
		if !aws.ToBool(page.IsTruncated) {
			return nil
		}
		in.KeyMarker, in.VersionIdMarker = page.NextKeyMarker, page.NextVersionIdMarker
	}
}

// objectError is the first of the objects DeleteObjects failed to delete.
type objectError struct {
	key, code, msg string
	n              int
}

func (e *objectError) Error() string {
	s := "could not delete " + e.key + " (" + e.code + ": " + e.msg + ")"
	if e.n > 1 {
		s += fmt.Sprintf(" and %d other objects", e.n-1)
	}
	return s
}
