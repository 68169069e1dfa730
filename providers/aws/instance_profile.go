package aws

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// InstanceProfileType is an IAM instance profile: what an EC2 instance
// takes to run with a role.
const InstanceProfileType = "aws.instance_profile"

func instanceProfileSchema() spec.Schema {
	return spec.Schema{
		Type: InstanceProfileType,
		Doc:  "An IAM instance profile holding one role, which instances launched with it assume. IAM is global: the configuration's region does not matter.",
		Attrs: []spec.Attr{
			{Name: "profile_name", Kind: spec.KindString, Optional: true, Computed: true, ForceNew: true, Doc: "The profile's name, unique in the account; default ferry-NAME-XXXXXXXX, chosen at create."},
			{Name: "role", Kind: spec.KindString, Optional: true, Doc: "The name of the role it holds (an aws.iam_role's name); changes in place. null: none."},
			{Name: "path", Kind: spec.KindString, Optional: true, Default: "/", ForceNew: true, Doc: `The profile's path, such as "/ferry/"; a change replaces the profile.`},
			{Name: "tags", Kind: spec.KindMap, Optional: true, Default: map[string]any{}, Doc: "Tags; change in place."},
			{Name: "id", Kind: spec.KindString, Computed: true, Doc: "The profile's name, which ferry import takes."},
			{Name: "unique_id", Kind: spec.KindString, Computed: true, Doc: "The profile's unique ID, AIPA..."},
			{Name: "arn", Kind: spec.KindString, Computed: true, Doc: "The profile's ARN, which aws.instance takes."},
		},
	}
}

// instanceProfile is aws.instance_profile.
type instanceProfile struct{ c *Client }

var (
	_ providers.BatchReader = (*instanceProfile)(nil)
	_ providers.Importer    = (*instanceProfile)(nil)
	_ providers.Adopter     = (*instanceProfile)(nil)
)

func (p *instanceProfile) client() *Client     { return p.c }
func (p *instanceProfile) Schema() spec.Schema { return instanceProfileSchema() }

func (p *instanceProfile) Plan(_ context.Context, req providers.PlanRequest) (providers.PlanResponse, error) {
	resp, err := planAttrs(instanceProfileSchema(), req, nil)
	if err != nil {
		return resp, err
	}
	pl := resp.Planned
	if _, err := tagArgs(req.Addr, pl); err != nil {
		return providers.PlanResponse{}, err
	}
	if path, ok := pl["path"].(string); ok {
		if err := checkIAMPath(req.Addr, path); err != nil {
			return providers.PlanResponse{}, err
		}
	}
	if role, ok := pl["role"].(string); ok && (role == "" || strings.HasPrefix(role, "arn:")) {
		return providers.PlanResponse{}, fmt.Errorf("%s: argument \"role\" = %q: give the role's name (an aws.iam_role's name attribute), not its ARN", req.Addr, role)
	}
	if req.Prior == nil || len(resp.RequiresReplace) > 0 {
		if name, ok := pl["profile_name"].(string); ok {
			if len(name) > 128 {
				return providers.PlanResponse{}, fmt.Errorf("%s: argument \"profile_name\" = %q: instance profile names have at most 128 characters", req.Addr, name)
			}
			pl["id"] = name
		}
	}
	return resp, nil
}

func (p *instanceProfile) Apply(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	return applyFuncs{p.create, p.update, p.delete}.apply(ctx, req)
}

// create makes the profile, tagged with the create's token, and adds its
// role. A profile the configuration does not name gets a name derived
// from the token, so that a retried create collides with the first and
// goes on with that profile.
func (p *instanceProfile) create(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "create", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	args, err := knownArguments(instanceProfileSchema(), "create", req.Addr, req.Planned)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	tags, err := tagArgs(req.Addr, args)
	if err != nil {
		return providers.ApplyResponse{}, fmt.Errorf("create %w", err)
	}
	name, named := str(args, "profile_name"), str(args, "profile_name") != ""
	if !named {
		name = iamName(InstanceProfileType, req.Addr, req.Token, 128)
	}
	var have *types.InstanceProfile
	retried := false
	out, err := p.c.iam.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{
		InstanceProfileName: aws.String(name),
		Path:                aws.String(str(args, "path")),
		Tags:                newIAMTags(tags, req.Token),
	})
	switch {
	case errorCode(err) == "EntityAlreadyExists":
		found, ferr := p.c.findInstanceProfile(ctx, name)
		if ferr != nil {
			return providers.ApplyResponse{}, p.c.fail("create", req.Addr, ferr)
		}
		if found == nil || req.Token == "" || tagValue(iamTags(found.Tags), tokenTag) != req.Token {
			return providers.ApplyResponse{}, fmt.Errorf("create %s: an instance profile named %q exists already and this deployment did not make it: import it with ferry import %s %s, or choose another name", req.Addr, name, req.Addr, name)
		}
		have, retried = found, true // a retried create: go on with the profile it made
	case err != nil:
		return providers.ApplyResponse{}, p.c.fail("create", req.Addr, callErr("iam:CreateInstanceProfile", err))
	default:
		have = out.InstanceProfile
	}
	st := profileState(have)
	err = retryNew(ctx, func() error { return p.setRole(ctx, name, profileRole(have), str(args, "role")) })
	if err == nil && retried {
		err = p.syncTags(ctx, name, st["tags"], tags)
	}
	if err != nil {
		if found, ferr := p.c.findInstanceProfile(context.WithoutCancel(ctx), name); ferr == nil && found != nil {
			st = profileState(found)
		}
		return providers.ApplyResponse{State: st}, fmt.Errorf("%w (instance profile %s was made; the next plan replaces it)", p.c.fail("create", req.Addr, err), name)
	}
	maps.Copy(st, args)
	st["role"] = args["role"]
	return providers.ApplyResponse{State: st}, nil
}

// profileRole is the name of the role a profile holds, "" for none.
func profileRole(ip *types.InstanceProfile) string {
	if len(ip.Roles) == 0 {
		return ""
	}
	return aws.ToString(ip.Roles[0].RoleName)
}

// setRole makes the profile hold role want ("" for none) instead of had:
// IAM holds one role per profile, so the old one goes first.
func (p *instanceProfile) setRole(ctx context.Context, name, had, want string) error {
	if had == want {
		return nil
	}
	if had != "" {
		_, err := p.c.iam.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{InstanceProfileName: aws.String(name), RoleName: aws.String(had)})
		if err != nil && !isNoSuchEntity(err) {
			return callErr("iam:RemoveRoleFromInstanceProfile", err)
		}
	}
	if want != "" {
		_, err := p.c.iam.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String(name), RoleName: aws.String(want)})
		if err != nil {
			return callErr("iam:AddRoleToInstanceProfile", err)
		}
	}
	return nil
}

// syncTags changes the user tags from prior to want: an untag and a tag
// call, where needed.
func (p *instanceProfile) syncTags(ctx context.Context, name string, prior any, want map[string]string) error {
	gone, set := iamTagChanges(prior, want)
	if len(gone) > 0 {
		if _, err := p.c.iam.UntagInstanceProfile(ctx, &iam.UntagInstanceProfileInput{InstanceProfileName: aws.String(name), TagKeys: gone}); err != nil {
			return callErr("iam:UntagInstanceProfile", err)
		}
	}
	if len(set) > 0 {
		if _, err := p.c.iam.TagInstanceProfile(ctx, &iam.TagInstanceProfileInput{InstanceProfileName: aws.String(name), Tags: set}); err != nil {
			return callErr("iam:TagInstanceProfile", err)
		}
	}
	return nil
}

// profileState is a profile's state as IAM describes it.
func profileState(ip *types.InstanceProfile) map[string]any {
	name := aws.ToString(ip.InstanceProfileName)
	return map[string]any{
		"profile_name": name,
		"id":           name,
		"unique_id":    aws.ToString(ip.InstanceProfileId),
		"arn":          aws.ToString(ip.Arn),
		"path":         aws.ToString(ip.Path),
		"role":         nullable(profileRole(ip)),
		"tags":         userTags(iamTags(ip.Tags)),
	}
}

// update changes the role and the tags in place.
func (p *instanceProfile) update(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "update", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	name, err := idOf("update", req.Addr, req.Prior)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	args, err := knownArguments(instanceProfileSchema(), "update", req.Addr, req.Planned)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	want, err := tagArgs(req.Addr, args)
	if err != nil {
		return providers.ApplyResponse{}, fmt.Errorf("update %w", err)
	}
	err = p.setRole(ctx, name, str(req.Prior, "role"), str(args, "role"))
	if err == nil {
		err = p.syncTags(ctx, name, req.Prior["tags"], want)
	}
	if err != nil {
		found, ferr := p.c.findInstanceProfile(context.WithoutCancel(ctx), name)
		switch {
		case ferr == nil && found == nil:
			return providers.ApplyResponse{}, fmt.Errorf("update %s: instance profile %s no longer exists (deleted outside ferry?); run ferry plan again to create it anew", req.Addr, name)
		case ferr == nil:
			return providers.ApplyResponse{State: profileState(found)}, p.c.fail("update", req.Addr, err)
		}
		return providers.ApplyResponse{}, p.c.fail("update", req.Addr, err)
	}
	st := updatedState(req.Prior, args)
	st["role"] = args["role"]
	return providers.ApplyResponse{State: st}, nil
}

// delete removes the profile's role (IAM deletes no profile that holds
// one), then the profile.
func (p *instanceProfile) delete(ctx context.Context, req providers.ApplyRequest) error {
	if err := checkCtx(ctx, "delete", req.Addr); err != nil {
		return err
	}
	name, err := idOf("delete", req.Addr, req.Prior)
	if err != nil {
		return err
	}
	found, err := p.c.findInstanceProfile(ctx, name)
	if err != nil {
		return p.c.fail("delete", req.Addr, err)
	}
	if found == nil {
		return nil // gone already: a crashed apply deletes again
	}
	for _, r := range found.Roles {
		if err := p.setRole(ctx, name, aws.ToString(r.RoleName), ""); err != nil {
			return p.c.fail("delete", req.Addr, err)
		}
	}
	_, err = p.c.iam.DeleteInstanceProfile(ctx, &iam.DeleteInstanceProfileInput{InstanceProfileName: aws.String(name)})
	if err != nil && !isNoSuchEntity(err) {
		return p.c.fail("delete", req.Addr, callErr("iam:DeleteInstanceProfile", err))
	}
	return nil
}

func (p *instanceProfile) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	return readOne(ctx, p, req)
}

// ReadMany reads the profiles, one GetInstanceProfile each, iamReads at
// a time (iam_find.go says why).
func (p *instanceProfile) ReadMany(ctx context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, error) {
	return readBatch(ctx, p.c, reqs, p.c.findInstanceProfiles, func(ip *types.InstanceProfile, _ map[string]any) map[string]any { return profileState(ip) })
}

// Import adopts an instance profile by its name.
func (p *instanceProfile) Import(ctx context.Context, req providers.ImportRequest) (providers.ImportResponse, error) {
	if req.ID == "" || strings.HasPrefix(req.ID, "arn:") {
		return providers.ImportResponse{}, fmt.Errorf("import %s: %q is not an instance profile name; give the profile's name (the last part of its ARN)", req.Addr, req.ID)
	}
	found, err := p.c.findInstanceProfile(ctx, req.ID)
	if err != nil {
		return providers.ImportResponse{}, p.c.fail("import", req.Addr, err)
	}
	if found == nil {
		return providers.ImportResponse{}, fmt.Errorf("import %s: no instance profile %q (%s); list them with aws iam list-instance-profiles", req.Addr, req.ID, p.c.name)
	}
	return providers.ImportResponse{State: profileState(found)}, nil
}

// Adopt finds the profile a create with req.Token made: by the name
// derived from the token, or the configured name, and the token tag on
// it.
func (p *instanceProfile) Adopt(ctx context.Context, req providers.AdoptRequest) (providers.ReadResponse, error) {
	if req.Token == "" {
		return providers.ReadResponse{}, nil
	}
	name, ok := req.Planned["profile_name"].(string)
	if !ok {
		name = iamName(InstanceProfileType, req.Addr, req.Token, 128)
	}
	found, err := p.c.findInstanceProfile(ctx, name)
	if err != nil {
		return providers.ReadResponse{}, p.c.fail("adopt", req.Addr, err)
	}
	if found == nil || tagValue(iamTags(found.Tags), tokenTag) != req.Token {
		return providers.ReadResponse{}, nil
	}
	return providers.ReadResponse{State: profileState(found)}, nil
}
