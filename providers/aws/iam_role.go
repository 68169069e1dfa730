package aws

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// IAMRoleType is an IAM role.
const IAMRoleType = "aws.iam_role"

func iamRoleSchema() spec.Schema {
	return spec.Schema{
		Type: IAMRoleType,
		Doc:  "An IAM role with its trust policy, attached managed policies and inline policies; policies attached, detached or changed outside ferry show in the next plan. IAM is global: the configuration's region does not matter.",
		Attrs: []spec.Attr{
			{Name: "role_name", Kind: spec.KindString, Optional: true, Computed: true, ForceNew: true, Doc: "The role's name, unique in the account; default ferry-NAME-XXXXXXXX, chosen at create."},
			{Name: "assume_role_policy", Kind: spec.KindString, Required: true, Doc: "The trust policy, a JSON document (json.encode({...})): who may assume the role. Compared by meaning; changes in place."},
			{Name: "managed_policy_arns", Kind: spec.KindList, Optional: true, Default: []any{}, Doc: "ARNs of managed policies attached to the role (a set: order does not matter); changes in place."},
			{Name: "inline_policies", Kind: spec.KindMap, Optional: true, Default: map[string]any{}, Doc: "The role's inline policies, by name: {NAME: JSON document}; compared by meaning, changed in place."},
			{Name: "path", Kind: spec.KindString, Optional: true, Default: "/", ForceNew: true, Doc: `The role's path, such as "/ferry/"; a change replaces the role.`},
			{Name: "description", Kind: spec.KindString, Optional: true, Default: "", Doc: "A description; changes in place."},
			{Name: "tags", Kind: spec.KindMap, Optional: true, Default: map[string]any{}, Doc: "Tags; change in place."},
			{Name: "id", Kind: spec.KindString, Computed: true, Doc: "The role's name, which ferry import takes."},
			{Name: "unique_id", Kind: spec.KindString, Computed: true, Doc: "The role's unique ID, AROA..."},
			{Name: "arn", Kind: spec.KindString, Computed: true, Doc: "The role's ARN."},
		},
	}
}

// iamRole is aws.iam_role.
type iamRole struct{ c *Client }

var (
	_ providers.BatchReader = (*iamRole)(nil)
	_ providers.Importer    = (*iamRole)(nil)
	_ providers.Adopter     = (*iamRole)(nil)
)

func (r *iamRole) client() *Client     { return r.c }
func (r *iamRole) Schema() spec.Schema { return iamRoleSchema() }

// iamName is the name of an IAM object the configuration does not name:
// generatedName within IAM's characters and maxLen.
func iamName(typ, addr, token string, maxLen int) string {
	return boundedName(typ, addr, token, maxLen, func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("+=,.@_-", r) {
			return r
		}
		return '-'
	})
}

// checkIAMPath says what IAM would refuse in a path.
func checkIAMPath(addr, p string) error {
	if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") || len(p) > 512 {
		return fmt.Errorf("%s: argument \"path\" = %q: a path starts and ends with \"/\", such as \"/\" or \"/ferry/\"", addr, p)
	}
	return nil
}

// roleArgs are a role's arguments, read for a plan or an apply.
type roleArgs struct {
	managed []string
	inline  map[string]string
	tags    map[string]string
}

func readRoleArgs(addr string, m map[string]any) (roleArgs, error) {
	var a roleArgs
	var err error
	if a.tags, err = tagArgs(addr, m); err != nil {
		return a, err
	}
	if doc, ok := m["assume_role_policy"].(string); ok {
		if err := checkPolicy(addr, "assume_role_policy", doc); err != nil {
			return a, err
		}
	}
	if p, ok := m["path"].(string); ok {
		if err := checkIAMPath(addr, p); err != nil {
			return a, err
		}
	}
	if list, ok := m["managed_policy_arns"].([]any); ok {
		for i, v := range list {
			if spec.HasUnknown(v) {
				continue
			}
			arn, ok := v.(string)
			if !ok || !strings.HasPrefix(arn, "arn:") || !strings.Contains(arn, ":policy/") {
				return a, fmt.Errorf("%s: managed_policy_arns[%d] = %s is not a policy ARN (arn:aws:iam::aws:policy/NAME)", addr, i, spec.Render(v))
			}
			a.managed = append(a.managed, arn)
		}
	}
	if spec.HasUnknown(m["inline_policies"]) {
		return a, nil
	}
	if a.inline, err = stringMap(addr, "inline_policies", m["inline_policies"]); err != nil {
		return a, err
	}
	for _, name := range slices.Sorted(maps.Keys(a.inline)) {
		if err := checkPolicy(addr, "inline_policies."+name, a.inline[name]); err != nil {
			return a, err
		}
	}
	return a, nil
}

func (r *iamRole) Plan(_ context.Context, req providers.PlanRequest) (providers.PlanResponse, error) {
	resp, err := planAttrs(iamRoleSchema(), req, nil)
	if err != nil {
		return resp, err
	}
	if _, err := readRoleArgs(req.Addr, resp.Planned); err != nil {
		return providers.PlanResponse{}, err
	}
	p := resp.Planned
	if req.Prior == nil || len(resp.RequiresReplace) > 0 {
		if name, ok := p["role_name"].(string); ok {
			if len(name) > 64 {
				return providers.PlanResponse{}, fmt.Errorf("%s: argument \"role_name\" = %q: IAM role names have at most 64 characters", req.Addr, name)
			}
			p["id"] = name
		}
	}
	return resp, nil
}

func (r *iamRole) Apply(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	return applyFuncs{r.create, r.update, r.delete}.apply(ctx, req)
}

// create makes the role, tagged with the create's token, then attaches
// and puts its policies. A role the configuration does not name gets a
// name derived from the token, so that a retried create collides with
// the first (EntityAlreadyExists) and goes on with that role.
func (r *iamRole) create(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "create", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	args, err := knownArguments(iamRoleSchema(), "create", req.Addr, req.Planned)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	a, err := readRoleArgs(req.Addr, args)
	if err != nil {
		return providers.ApplyResponse{}, fmt.Errorf("create %w", err)
	}
	name, named := str(args, "role_name"), str(args, "role_name") != ""
	if !named {
		name = iamName(IAMRoleType, req.Addr, req.Token, 64)
	}
	in := &iam.CreateRoleInput{
		RoleName:                 aws.String(name),
		Path:                     aws.String(str(args, "path")),
		AssumeRolePolicyDocument: aws.String(str(args, "assume_role_policy")),
		Tags:                     newIAMTags(a.tags, req.Token),
	}
	if d := str(args, "description"); d != "" {
		in.Description = aws.String(d)
	}
	var prior *role // what a first attempt made, on a retried create
	_, err = r.c.iam.CreateRole(ctx, in)
	switch {
	case errorCode(err) == "EntityAlreadyExists":
		found, ferr := r.c.findRole(ctx, name)
		if ferr != nil {
			return providers.ApplyResponse{}, r.c.fail("create", req.Addr, ferr)
		}
		if found == nil || req.Token == "" || tagValue(iamTags(found.tags), tokenTag) != req.Token {
			return providers.ApplyResponse{}, fmt.Errorf("create %s: a role named %q exists already and this deployment did not make it: import it with ferry import %s %s, or choose another name", req.Addr, name, req.Addr, name)
		}
		prior = found
	case err != nil:
		return providers.ApplyResponse{}, r.c.fail("create", req.Addr, callErr("iam:CreateRole", err))
	}

	have := roleArgs{inline: map[string]string{}}
	if prior != nil {
		have.managed, have.inline = prior.managed, prior.inline
	}
	err = retryNew(ctx, func() error { return r.syncPolicies(ctx, name, have, a) })
	if err == nil && prior != nil {
		err = r.syncRest(ctx, name, roleState(prior, nil), args, a.tags)
	}
	found, ferr := r.c.findRole(context.WithoutCancel(ctx), name)
	if err == nil && found == nil {
		err = fmt.Errorf("role %s was made but IAM does not show it", name)
	}
	if err == nil {
		err = ferr
	}
	if err != nil {
		var st map[string]any
		if found != nil {
			st = roleState(found, nil)
		}
		return providers.ApplyResponse{State: st}, fmt.Errorf("%w (role %s was made; the next plan replaces it)", r.c.fail("create", req.Addr, err), name)
	}
	st := roleState(found, args)
	maps.Copy(st, args)
	return providers.ApplyResponse{State: st}, nil
}

// syncPolicies attaches and detaches managed policies, and puts and
// deletes inline ones, to go from have to want.
func (r *iamRole) syncPolicies(ctx context.Context, name string, have, want roleArgs) error {
	rn := aws.String(name)
	for _, arn := range want.managed {
		if !slices.Contains(have.managed, arn) {
			if _, err := r.c.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: rn, PolicyArn: aws.String(arn)}); err != nil {
				return callErr("iam:AttachRolePolicy", err)
			}
		}
	}
	for _, arn := range have.managed {
		if !slices.Contains(want.managed, arn) {
			_, err := r.c.iam.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: rn, PolicyArn: aws.String(arn)})
			if err != nil && !isNoSuchEntity(err) {
				return callErr("iam:DetachRolePolicy", err)
			}
		}
	}
	for _, pn := range slices.Sorted(maps.Keys(want.inline)) {
		if had, ok := have.inline[pn]; !ok || !samePolicy(had, want.inline[pn]) {
			if _, err := r.c.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: rn, PolicyName: aws.String(pn), PolicyDocument: aws.String(want.inline[pn])}); err != nil {
				return callErr("iam:PutRolePolicy", err)
			}
		}
	}
	for _, pn := range slices.Sorted(maps.Keys(have.inline)) {
		if _, keep := want.inline[pn]; !keep {
			_, err := r.c.iam.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: rn, PolicyName: aws.String(pn)})
			if err != nil && !isNoSuchEntity(err) {
				return callErr("iam:DeleteRolePolicy", err)
			}
		}
	}
	return nil
}

// syncRest changes the trust policy, description and tags from prior to
// args, a call each where they differ.
func (r *iamRole) syncRest(ctx context.Context, name string, prior, args map[string]any, want map[string]string) error {
	rn := aws.String(name)
	if doc := str(args, "assume_role_policy"); !samePolicy(doc, str(prior, "assume_role_policy")) {
		if _, err := r.c.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: rn, PolicyDocument: aws.String(doc)}); err != nil {
			return callErr("iam:UpdateAssumeRolePolicy", err)
		}
	}
	if d := str(args, "description"); d != str(prior, "description") {
		if _, err := r.c.iam.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: rn, Description: aws.String(d)}); err != nil {
			return callErr("iam:UpdateRole", err)
		}
	}
	gone, set := iamTagChanges(prior["tags"], want)
	if len(gone) > 0 {
		if _, err := r.c.iam.UntagRole(ctx, &iam.UntagRoleInput{RoleName: rn, TagKeys: gone}); err != nil {
			return callErr("iam:UntagRole", err)
		}
	}
	if len(set) > 0 {
		if _, err := r.c.iam.TagRole(ctx, &iam.TagRoleInput{RoleName: rn, Tags: set}); err != nil {
			return callErr("iam:TagRole", err)
		}
	}
	return nil
}

// roleState is a role's state as IAM describes it; policies keep prior's
// form (documents as written, the order of managed_policy_arns) while
// they mean the same.
func roleState(r *role, prior map[string]any) map[string]any {
	managed := make([]any, 0, len(r.managed))
	if list, ok := prior["managed_policy_arns"].([]any); ok && sameSet(list, r.managed) {
		managed = append(managed, list...)
	} else {
		for _, arn := range slices.Sorted(slices.Values(r.managed)) {
			managed = append(managed, arn)
		}
	}
	priorInline, _ := prior["inline_policies"].(map[string]any)
	inline := map[string]any{}
	for name, doc := range r.inline {
		inline[name] = keepPolicy(priorInline[name], doc)
	}
	return map[string]any{
		"role_name":           r.name,
		"id":                  r.name,
		"unique_id":           r.id,
		"arn":                 r.arn,
		"path":                r.path,
		"description":         r.description,
		"assume_role_policy":  keepPolicy(prior["assume_role_policy"], r.assume),
		"managed_policy_arns": managed,
		"inline_policies":     inline,
		"tags":                userTags(iamTags(r.tags)),
	}
}

// sameSet reports whether list holds the strings of set, in any order.
func sameSet(list []any, set []string) bool {
	have := make([]string, 0, len(list))
	for _, v := range list {
		s, ok := v.(string)
		if !ok {
			return false
		}
		have = append(have, s)
	}
	slices.Sort(have)
	want := slices.Sorted(slices.Values(set))
	return slices.Equal(slices.Compact(have), slices.Compact(want))
}

// update changes policies, description and tags in place.
func (r *iamRole) update(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "update", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	name, err := idOf("update", req.Addr, req.Prior)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	args, err := knownArguments(iamRoleSchema(), "update", req.Addr, req.Planned)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	want, err := readRoleArgs(req.Addr, args)
	if err != nil {
		return providers.ApplyResponse{}, fmt.Errorf("update %w", err)
	}
	have, err := readRoleArgs(req.Addr, req.Prior)
	if err != nil {
		return providers.ApplyResponse{}, fmt.Errorf("update %s: the prior state does not read (%v); run ferry plan again", req.Addr, err)
	}
	err = r.syncRest(ctx, name, req.Prior, args, want.tags)
	if err == nil {
		err = r.syncPolicies(ctx, name, have, want)
	}
	if err != nil {
		if isNoSuchEntity(err) {
			if found, ferr := r.c.findRole(context.WithoutCancel(ctx), name); ferr == nil && found == nil {
				return providers.ApplyResponse{}, fmt.Errorf("update %s: role %s no longer exists (deleted outside ferry?); run ferry plan again to create it anew", req.Addr, name)
			}
		}
		if found, ferr := r.c.findRole(context.WithoutCancel(ctx), name); ferr == nil && found != nil {
			return providers.ApplyResponse{State: roleState(found, req.Prior)}, r.c.fail("update", req.Addr, err)
		}
		return providers.ApplyResponse{}, r.c.fail("update", req.Addr, err)
	}
	st := updatedState(req.Prior, args)
	return providers.ApplyResponse{State: st}, nil
}

// delete detaches the role's managed policies and deletes its inline
// ones (IAM deletes no role that has any), then the role. A role an
// instance profile still holds is refused, naming the profile.
func (r *iamRole) delete(ctx context.Context, req providers.ApplyRequest) error {
	if err := checkCtx(ctx, "delete", req.Addr); err != nil {
		return err
	}
	name, err := idOf("delete", req.Addr, req.Prior)
	if err != nil {
		return err
	}
	found, err := r.c.findRole(ctx, name)
	if err != nil {
		return r.c.fail("delete", req.Addr, err)
	}
	if found == nil {
		return nil // gone already: a crashed apply deletes again
	}
	profiles, err := r.c.iam.ListInstanceProfilesForRole(ctx, &iam.ListInstanceProfilesForRoleInput{RoleName: aws.String(name)})
	if err != nil && !isNoSuchEntity(err) {
		return r.c.fail("delete", req.Addr, callErr("iam:ListInstanceProfilesForRole", err))
	}
	if err == nil && len(profiles.InstanceProfiles) > 0 {
		var names []string
		for _, p := range profiles.InstanceProfiles {
			names = append(names, aws.ToString(p.InstanceProfileName))
		}
		re := r.c.fail("delete", req.Addr, callErr("iam:DeleteRole", fmt.Errorf("role %s is in instance profile %s", name, strings.Join(names, ", ")))).(*ResourceError)
		re.Hint = fmt.Sprintf("remove it from %s first (change that aws.instance_profile's role, or delete the profile)", strings.Join(names, ", "))
		return re
	}
	if err := r.syncPolicies(ctx, name, roleArgs{managed: found.managed, inline: found.inline}, roleArgs{}); err != nil {
		return r.c.fail("delete", req.Addr, err)
	}
	_, err = r.c.iam.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(name)})
	if err != nil && !isNoSuchEntity(err) {
		return r.c.fail("delete", req.Addr, callErr("iam:DeleteRole", err))
	}
	return nil
}

func (r *iamRole) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	return readOne(ctx, r, req)
}

// ReadMany reads the roles: a few one by one, more from the account's
// listing (iam_find.go).
func (r *iamRole) ReadMany(ctx context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, error) {
	return readBatch(ctx, r.c, reqs, r.c.findRoles, roleState)
}

// Import adopts a role by its name.
func (r *iamRole) Import(ctx context.Context, req providers.ImportRequest) (providers.ImportResponse, error) {
	if req.ID == "" || strings.HasPrefix(req.ID, "arn:") {
		return providers.ImportResponse{}, fmt.Errorf("import %s: %q is not a role name; give the role's name (the last part of its ARN)", req.Addr, req.ID)
	}
	found, err := r.c.findRole(ctx, req.ID)
	if err != nil {
		return providers.ImportResponse{}, r.c.fail("import", req.Addr, err)
	}
	if found == nil {
		return providers.ImportResponse{}, fmt.Errorf("import %s: no IAM role %q (%s); list them with aws iam list-roles", req.Addr, req.ID, r.c.name)
	}
	return providers.ImportResponse{State: roleState(found, nil)}, nil
}

// Adopt finds the role a create with req.Token made: by the name derived
// from the token, or the configured name, and the token tag on it (IAM
// lists no roles by tag).
func (r *iamRole) Adopt(ctx context.Context, req providers.AdoptRequest) (providers.ReadResponse, error) {
	if req.Token == "" {
		return providers.ReadResponse{}, nil
	}
	name, ok := req.Planned["role_name"].(string)
	if !ok {
		name = iamName(IAMRoleType, req.Addr, req.Token, 64)
	}
	found, err := r.c.findRole(ctx, name)
	if err != nil {
		return providers.ReadResponse{}, r.c.fail("adopt", req.Addr, err)
	}
	if found == nil || tagValue(iamTags(found.tags), tokenTag) != req.Token {
		return providers.ReadResponse{}, nil
	}
	return providers.ReadResponse{State: roleState(found, req.Planned)}, nil
}
