package aws

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/nixferry/ferry/engine/spec"
)

// tokenTag is the tag that carries a create's idempotency token, so that
// the object can be found again after a killed run (Adopter) where the
// API has no client token (key pairs, security groups) or does not keep
// its promise (moto's ClientToken).
const tokenTag = "ferry:token"

// ferryTagPrefix starts the tag keys ferry keeps for itself; the tags
// attribute never shows them and the configuration cannot set them.
const ferryTagPrefix = "ferry:"

// checkTags validates a configuration's tags: what AWS would refuse, and
// ferry's own keys.
func checkTags(addr string, tags map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		switch {
		case strings.HasPrefix(k, ferryTagPrefix):
			return fmt.Errorf("%s: tag %q: keys starting with %q are ferry's own", addr, k, ferryTagPrefix)
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return fmt.Errorf("%s: tag %q: keys starting with \"aws:\" are reserved by AWS", addr, k)
		case k == "" || len(k) > 128:
			return fmt.Errorf("%s: tag key %q must have 1 to 128 characters", addr, k)
		case len(tags[k]) > 256:
			return fmt.Errorf("%s: tag %q: the value has more than 256 characters", addr, k)
		}
	}
	return nil
}

// tagArgs reads and checks the tags argument of m (a configuration or
// planned attributes); an unknown one passes (a plan checks it once it is
// known).
func tagArgs(addr string, m map[string]any) (map[string]string, error) {
	if spec.HasUnknown(m["tags"]) {
		return nil, nil
	}
	tags, err := stringMap(addr, "tags", m["tags"])
	if err == nil {
		err = checkTags(addr, tags)
	}
	return tags, err
}

// tagSpecs tags a new object of type rt with the user's tags and the
// create's token.
func tagSpecs(rt types.ResourceType, tags map[string]string, token string) []types.TagSpecification {
	var ts []types.Tag
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		ts = append(ts, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	if token != "" {
		ts = append(ts, types.Tag{Key: aws.String(tokenTag), Value: aws.String(token)})
	}
	if len(ts) == 0 {
		return nil
	}
	return []types.TagSpecification{{ResourceType: rt, Tags: ts}}
}

// userTags is the tags attribute of an object: its tags but ferry's own.
func userTags(ts []types.Tag) map[string]any {
	out := map[string]any{}
	for _, t := range ts {
		k := aws.ToString(t.Key)
		if !strings.HasPrefix(k, ferryTagPrefix) {
			out[k] = aws.ToString(t.Value)
		}
	}
	return out
}

// tagValue returns the value of tag key, "" when absent.
func tagValue(ts []types.Tag, key string) string {
	for _, t := range ts {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

// updateTags makes the user tags of the EC2 object id go from prior to
// want: DeleteTags for keys that went away, CreateTags for new and
// changed values (one call each, none when nothing changes). ferry's own
// tags are left alone.
func (c *Client) updateTags(ctx context.Context, id string, prior, want map[string]string) error {
	var gone []types.Tag
	for _, k := range slices.Sorted(maps.Keys(prior)) {
		if _, keep := want[k]; !keep && !strings.HasPrefix(k, ferryTagPrefix) {
			gone = append(gone, types.Tag{Key: aws.String(k)})
		}
	}
	var set []types.Tag
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if v, had := prior[k]; !had || v != want[k] {
			set = append(set, types.Tag{Key: aws.String(k), Value: aws.String(want[k])})
		}
	}
	if len(gone) > 0 {
		_, err := c.ec2.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{id}, Tags: gone})
		if err != nil {
			return callErr("ec2:DeleteTags", err)
		}
	}
	if len(set) > 0 {
		_, err := c.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: set})
		if err != nil {
			return callErr("ec2:CreateTags", err)
		}
	}
	return nil
}

// asEC2Tags turns another service's tags into EC2's, so that the tag
// helpers of tags.go (userTags, tagValue) serve every service.
func asEC2Tags[T any](ts []T, kv func(T) (key, value *string)) []types.Tag {
	out := make([]types.Tag, len(ts))
	for i, t := range ts {
		out[i].Key, out[i].Value = kv(t)
	}
	return out
}
