package aws

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"golang.org/x/sync/errgroup"
)

// The finders of IAM roles and instance profiles. IAM has no call that
// describes a list of named objects. A role's whole picture (trust
// policy, attached and inline policies, tags) takes GetRole,
// ListAttachedRolePolicies, ListRolePolicies and a GetRolePolicy per
// inline policy; GetAccountAuthorizationDetails gives all of it for every
// role of the account, 1,000 a page, except the description, which
// ListRoles gives. So a few roles are read one by one, and more in pages
// of the whole account (2 calls per 1,000 roles of the account). An
// instance profile is one GetInstanceProfile (ListInstanceProfiles leaves
// out the tags).

// iamReads bounds the objects read at once one by one.
const iamReads = 4

// roleListingFrom is the number of roles from which a read lists the
// account's roles instead of reading them one by one (3 or more calls
// each).
const roleListingFrom = 4

// role is what IAM says of one role.
type role struct {
	name, id, arn, path, description string
	assume                           string // the trust policy, JSON
	managed                          []string
	inline                           map[string]string // name -> JSON
	tags                             []types.Tag
}

func isNoSuchEntity(err error) bool { return errorCode(err) == "NoSuchEntity" }

// findRole reads one role; nil when it does not exist.
func (c *Client) findRole(ctx context.Context, name string) (*role, error) {
	out, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if isNoSuchEntity(err) {
		return nil, nil
	}
	if err != nil {
		return nil, callErr("iam:GetRole", err)
	}
	r := out.Role
	found := &role{
		name: aws.ToString(r.RoleName), id: aws.ToString(r.RoleId), arn: aws.ToString(r.Arn), path: aws.ToString(r.Path),
		description: aws.ToString(r.Description), assume: iamDocument(aws.ToString(r.AssumeRolePolicyDocument)),
		tags: r.Tags, inline: map[string]string{},
	}
	attached := iam.NewListAttachedRolePoliciesPaginator(c.iam, &iam.ListAttachedRolePoliciesInput{RoleName: r.RoleName})
	for attached.HasMorePages() {
		page, err := attached.NextPage(ctx)
		if err != nil {
			return nil, callErr("iam:ListAttachedRolePolicies", err)
		}
		for _, p := range page.AttachedPolicies {
			found.managed = append(found.managed, aws.ToString(p.PolicyArn))
		}
	}
	var names []string
	inline := iam.NewListRolePoliciesPaginator(c.iam, &iam.ListRolePoliciesInput{RoleName: r.RoleName})
	for inline.HasMorePages() {
		page, err := inline.NextPage(ctx)
		if err != nil {
			return nil, callErr("iam:ListRolePolicies", err)
		}
		names = append(names, page.PolicyNames...)
	}
	for _, n := range names {
		p, err := c.iam.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: r.RoleName, PolicyName: aws.String(n)})
		if err != nil {
			return nil, callErr("iam:GetRolePolicy", err)
		}
		found.inline[n] = iamDocument(aws.ToString(p.PolicyDocument))
	}
	return found, nil
}

// findRoles reads the named roles, by name; a role that does not exist
// is left out.
func (c *Client) findRoles(ctx context.Context, names []string) (map[string]*role, error) {
	names = uniq(names)
	if len(names) >= roleListingFrom {
		return c.listRoles(ctx, names)
	}
	found := make([]*role, len(names))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(iamReads)
	for i, name := range names {
		g.Go(func() (err error) {
			found[i], err = c.findRole(gctx, name)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := map[string]*role{}
	for _, r := range found {
		if r != nil {
			out[r.name] = r
		}
	}
	return out, nil
}

// listRoles reads the account's roles a page at a time and keeps the
// named ones.
func (c *Client) listRoles(ctx context.Context, names []string) (map[string]*role, error) {
	out := map[string]*role{}
	details := iam.NewGetAccountAuthorizationDetailsPaginator(c.iam, &iam.GetAccountAuthorizationDetailsInput{
		Filter: []types.EntityType{types.EntityTypeRole}, MaxItems: aws.Int32(1000),
	})
	for details.HasMorePages() {
		page, err := details.NextPage(ctx)
		if err != nil {
			return nil, callErr("iam:GetAccountAuthorizationDetails", err)
		}
		for _, d := range page.RoleDetailList {
			name := aws.ToString(d.RoleName)
			if !slices.Contains(names, name) {
				continue
			}
			r := &role{
				name: name, id: aws.ToString(d.RoleId), arn: aws.ToString(d.Arn), path: aws.ToString(d.Path),
				assume: iamDocument(aws.ToString(d.AssumeRolePolicyDocument)), tags: d.Tags, inline: map[string]string{},
			}
			for _, p := range d.AttachedManagedPolicies {
				r.managed = append(r.managed, aws.ToString(p.PolicyArn))
			}
			for _, p := range d.RolePolicyList {
				r.inline[aws.ToString(p.PolicyName)] = iamDocument(aws.ToString(p.PolicyDocument))
			}
			out[name] = r
		}
	}
	// The details leave out the description.
	roles := iam.NewListRolesPaginator(c.iam, &iam.ListRolesInput{MaxItems: aws.Int32(1000)})
	for roles.HasMorePages() {
		page, err := roles.NextPage(ctx)
		if err != nil {
			return nil, callErr("iam:ListRoles", err)
		}
		for _, r := range page.Roles {
			if found, ok := out[aws.ToString(r.RoleName)]; ok {
				found.description = aws.ToString(r.Description)
			}
		}
	}
	return out, nil
}

// findInstanceProfile reads one instance profile; nil when it does not
// exist.
func (c *Client) findInstanceProfile(ctx context.Context, name string) (*types.InstanceProfile, error) {
	out, err := c.iam.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(name)})
	if isNoSuchEntity(err) {
		return nil, nil
	}
	if err != nil {
		return nil, callErr("iam:GetInstanceProfile", err)
	}
	return out.InstanceProfile, nil
}

// findInstanceProfiles reads the named instance profiles, iamReads at a
// time, by name; one that does not exist is left out.
func (c *Client) findInstanceProfiles(ctx context.Context, names []string) (map[string]*types.InstanceProfile, error) {
	names = uniq(names)
	found := make([]*types.InstanceProfile, len(names))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(iamReads)
	for i, name := range names {
		g.Go(func() (err error) {
			found[i], err = c.findInstanceProfile(gctx, name)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := map[string]*types.InstanceProfile{}
	for i, p := range found {
		if p != nil {
			out[names[i]] = p
		}
	}
	return out, nil
}

// retryNew retries a call on an object IAM made a moment ago: IAM is
// eventually consistent, and a role just made may not be found by the
// next call for a few seconds.
func retryNew(ctx context.Context, call func() error) error {
	delay := 250 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := call()
		if !isNoSuchEntity(err) || attempt == 6 {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
			delay *= 2
		}
	}
}

// iamTags are IAM's tags as EC2's, for the shared tag helpers.
func iamTags(ts []types.Tag) []ec2types.Tag {
	return asEC2Tags(ts, func(t types.Tag) (*string, *string) { return t.Key, t.Value })
}

// newIAMTags are the tags of a new IAM object: the user's and the
// create's token.
func newIAMTags(user map[string]string, token string) []types.Tag {
	var out []types.Tag
	for _, k := range slices.Sorted(maps.Keys(user)) {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(user[k])})
	}
	if token != "" {
		out = append(out, types.Tag{Key: aws.String(tokenTag), Value: aws.String(token)})
	}
	return out
}

// iamTagChanges are the user tag keys to remove and the tags to set to go
// from the tags attribute prior to want; ferry's own tags are not in
// either.
func iamTagChanges(prior any, want map[string]string) (gone []string, set []types.Tag) {
	had, _ := stringMap("", "tags", prior)
	for _, k := range slices.Sorted(maps.Keys(had)) {
		if _, keep := want[k]; !keep {
			gone = append(gone, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if v, ok := had[k]; !ok || v != want[k] {
			set = append(set, types.Tag{Key: aws.String(k), Value: aws.String(want[k])})
		}
	}
	return gone, set
}
