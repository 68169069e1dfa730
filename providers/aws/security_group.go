package aws

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// SecurityGroupType is an EC2 security group with its rules inline.
const SecurityGroupType = "aws.security_group"

// allowAllEgress is the egress rule EC2 gives every new group, and the
// default of the egress argument.
func allowAllEgress() []any {
	return []any{map[string]any{"protocol": "-1", "cidr_blocks": []any{"0.0.0.0/0"}}}
}

func securityGroupSchema() spec.Schema {
	return spec.Schema{
		Type: SecurityGroupType,
		Doc:  "An EC2 security group of a VPC, with its ingress and egress rules inline: rules added or removed outside ferry show as changes in the next plan.",
		Attrs: []spec.Attr{
			{Name: "group_name", Kind: spec.KindString, Optional: true, Computed: true, ForceNew: true, Doc: "The group name, unique in its VPC; default ferry-NAME-XXXXXXXX, chosen at create."},
			{Name: "description", Kind: spec.KindString, Optional: true, Default: "Managed by ferry", ForceNew: true, Doc: "EC2 cannot change it: a change replaces the group."},
			{Name: "vpc_id", Kind: spec.KindString, Optional: true, Computed: true, ForceNew: true, Doc: "The VPC; the region's default VPC when left out."},
			{Name: "ingress", Kind: spec.KindList, Optional: true, Default: []any{}, Doc: `Inbound rules: [{"protocol": "tcp", "port": 22, "cidr_blocks": ["0.0.0.0/0"]}, ...]; each takes protocol (tcp, udp, icmp, icmpv6, all), port or from_port and to_port, cidr_blocks, ipv6_cidr_blocks, security_groups, prefix_lists, description.`},
			{Name: "egress", Kind: spec.KindList, Optional: true, Default: allowAllEgress(), Doc: `Outbound rules, as ingress; default: everything to anywhere (what EC2 gives a new group). [] allows nothing out.`},
			{Name: "tags", Kind: spec.KindMap, Optional: true, Default: map[string]any{}, Doc: "Tags; change in place."},
			{Name: "id", Kind: spec.KindString, Computed: true, Doc: "The group ID, sg-..."},
			{Name: "arn", Kind: spec.KindString, Computed: true, Doc: "The group's ARN."},
			{Name: "owner_id", Kind: spec.KindString, Computed: true, Doc: "The account that owns the group."},
		},
	}
}

// securityGroup is aws.security_group.
type securityGroup struct{ c *Client }

var (
	_ providers.BatchReader = (*securityGroup)(nil)
	_ providers.Importer    = (*securityGroup)(nil)
	_ providers.Adopter     = (*securityGroup)(nil)
)

func (g *securityGroup) client() *Client     { return g.c }
func (g *securityGroup) Schema() spec.Schema { return securityGroupSchema() }

func (g *securityGroup) Plan(_ context.Context, req providers.PlanRequest) (providers.PlanResponse, error) {
	resp, err := planAttrs(securityGroupSchema(), req, nil)
	if err != nil {
		return resp, err
	}
	p := resp.Planned
	for _, d := range []string{"ingress", "egress"} {
		if _, _, err := parseRules(req.Addr, d, p[d]); err != nil {
			return providers.PlanResponse{}, err
		}
	}
	if !spec.HasUnknown(p["tags"]) {
		tags, err := stringMap(req.Addr, "tags", p["tags"])
		if err == nil {
			err = checkTags(req.Addr, tags)
		}
		if err != nil {
			return providers.PlanResponse{}, err
		}
	}
	if name, ok := p["group_name"].(string); ok && (name == "" || len(name) > 255 || strings.HasPrefix(strings.ToLower(name), "sg-")) {
		return providers.PlanResponse{}, fmt.Errorf("%s: argument \"group_name\" = %q: want 1 to 255 characters, not starting with sg-", req.Addr, name)
	}
	if d, ok := p["description"].(string); ok && (d == "" || len(d) > 255) {
		return providers.PlanResponse{}, fmt.Errorf("%s: argument \"description\" = %q: want 1 to 255 characters (EC2 requires one)", req.Addr, d)
	}
	return resp, nil
}

func (g *securityGroup) Apply(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	return applyFuncs{g.create, g.update, g.delete}.apply(ctx, req)
}

// groupArgs are a group's arguments, read for an apply.
type groupArgs struct {
	args            map[string]any
	tags            map[string]string
	ingress, egress []perm
}

func (g *securityGroup) applyArgs(verb string, req providers.ApplyRequest) (groupArgs, error) {
	args, err := knownArguments(securityGroupSchema(), verb, req.Addr, req.Planned)
	if err != nil {
		return groupArgs{}, err
	}
	a := groupArgs{args: args}
	if a.tags, err = stringMap(req.Addr, "tags", args["tags"]); err != nil {
		return a, fmt.Errorf("%s %w", verb, err)
	}
	if a.ingress, _, err = parseRules(req.Addr, "ingress", args["ingress"]); err != nil {
		return a, fmt.Errorf("%s %w", verb, err)
	}
	if a.egress, _, err = parseRules(req.Addr, "egress", args["egress"]); err != nil {
		return a, fmt.Errorf("%s %w", verb, err)
	}
	return a, nil
}

// create makes the group (or finds the one a retried create with the
// same token made), then brings its rules from what EC2 gave it to the
// configured ones. A failure after the group exists returns the group as
// it then is, so that the engine records it (tainted) instead of losing
// it.
func (g *securityGroup) create(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "create", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	a, err := g.applyArgs("create", req)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	name := str(a.args, "group_name")
	if name == "" {
		name = generatedName(SecurityGroupType, req.Addr, req.Token)
	}
	vpc := str(a.args, "vpc_id")
	in := &ec2.CreateSecurityGroupInput{
		GroupName:         aws.String(name),
		Description:       aws.String(str(a.args, "description")),
		TagSpecifications: tagSpecs(types.ResourceTypeSecurityGroup, a.tags, req.Token),
	}
	if vpc != "" {
		in.VpcId = aws.String(vpc)
	}
	var id string
	out, err := g.c.ec2.CreateSecurityGroup(ctx, in)
	switch {
	case errorCode(err) == "InvalidGroup.Duplicate":
		sg, ferr := g.c.findSecurityGroupByName(ctx, vpc, name)
		if ferr != nil {
			return providers.ApplyResponse{}, g.c.fail("create", req.Addr, ferr)
		}
		if sg == nil || req.Token == "" || tagValue(sg.Tags, tokenTag) != req.Token {
			return providers.ApplyResponse{}, fmt.Errorf("create %s: a security group named %q exists already in %s and this deployment did not make it: import it with ferry import %s sg-..., or choose another group_name", req.Addr, name, vpcName(vpc), req.Addr)
		}
		id = aws.ToString(sg.GroupId) // a retried create: go on with the group it made
	case err != nil:
		return providers.ApplyResponse{}, g.c.fail("create", req.Addr, callErr("ec2:CreateSecurityGroup", err))
	default:
		id = aws.ToString(out.GroupId)
	}

	sg, err := g.describeNew(ctx, id)
	if err == nil {
		err = ingress.sync(ctx, g.c, id, permsOf(sg.IpPermissions), a.ingress)
	}
	if err == nil {
		err = egress.sync(ctx, g.c, id, permsOf(sg.IpPermissionsEgress), a.egress)
	}
	if err != nil {
		return providers.ApplyResponse{State: g.partial(ctx, id, name, a.args)}, fmt.Errorf("%w (security group %s was made; the next plan replaces it)", g.c.fail("create", req.Addr, err), id)
	}
	st := g.c.groupState(*sg, a.args)
	for k, v := range a.args {
		st[k] = v
	}
	return providers.ApplyResponse{State: st}, nil
}

// partition is the ARN partition of a region.
func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

func vpcName(vpc string) string {
	if vpc == "" {
		return "the default VPC"
	}
	return vpc
}

// describeNew reads a group just made: EC2 is eventually consistent, so
// a group may not be visible at once.
func (g *securityGroup) describeNew(ctx context.Context, id string) (*types.SecurityGroup, error) {
	delay := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		sg, err := g.c.findSecurityGroupByID(ctx, id)
		if err != nil || sg != nil {
			return sg, err
		}
		if attempt == 5 {
			return nil, fmt.Errorf("security group %s was made but EC2 does not show it", id)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
			delay *= 2
		}
	}
}

// partial is the state of a group whose create failed halfway: as EC2
// shows it, or, when even that fails, what the create asked for.
func (g *securityGroup) partial(ctx context.Context, id, name string, args map[string]any) map[string]any {
	ctx = context.WithoutCancel(ctx)
	if sg, err := g.c.findSecurityGroupByID(ctx, id); err == nil && sg != nil {
		return g.c.groupState(*sg, nil)
	}
	st := spec.CloneMap(args)
	st["id"], st["group_name"] = id, name
	for _, k := range []string{"arn", "owner_id", "vpc_id"} {
		if _, ok := st[k]; !ok {
			st[k] = nil
		}
	}
	st["ingress"], st["egress"] = []any{}, []any{}
	return st
}

// groupState is a group's state as EC2 describes it; rules keep prior's
// form where they hold the same permissions.
func (c *Client) groupState(sg types.SecurityGroup, prior map[string]any) map[string]any {
	id := aws.ToString(sg.GroupId)
	arn := aws.ToString(sg.SecurityGroupArn)
	if arn == "" { // older EC2 answers lack it
		arn = fmt.Sprintf("arn:%s:ec2:%s:%s:security-group/%s", partition(c.region), c.region, aws.ToString(sg.OwnerId), id)
	}
	return map[string]any{
		"id":          id,
		"arn":         arn,
		"owner_id":    aws.ToString(sg.OwnerId),
		"group_name":  aws.ToString(sg.GroupName),
		"description": aws.ToString(sg.Description),
		"vpc_id":      aws.ToString(sg.VpcId),
		"ingress":     shapeRules("", "ingress", prior["ingress"], permsOf(sg.IpPermissions)),
		"egress":      shapeRules("", "egress", prior["egress"], permsOf(sg.IpPermissionsEgress)),
		"tags":        userTags(sg.Tags),
	}
}

// update changes tags and rules in place (everything else replaces the
// group): the permissions that differ between the prior state and the
// plan are revoked and authorized.
func (g *securityGroup) update(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "update", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	id, err := idOf("update", req.Addr, req.Prior)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	a, err := g.applyArgs("update", req)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	haveIn, _, err1 := parseRules(req.Addr, "ingress", req.Prior["ingress"])
	haveOut, _, err2 := parseRules(req.Addr, "egress", req.Prior["egress"])
	hadTags, err3 := stringMap(req.Addr, "tags", req.Prior["tags"])
	if err := firstErr(err1, err2, err3); err != nil {
		return providers.ApplyResponse{}, fmt.Errorf("update %s: the prior state does not read (%v); run ferry plan again", req.Addr, err)
	}
	err = g.c.updateTags(ctx, id, hadTags, a.tags)
	if err == nil {
		err = ingress.sync(ctx, g.c, id, haveIn, a.ingress)
	}
	if err == nil {
		err = egress.sync(ctx, g.c, id, haveOut, a.egress)
	}
	if err != nil {
		// Some calls may have been made: return the group as it is now.
		sg, rerr := g.c.findSecurityGroupByID(context.WithoutCancel(ctx), id)
		switch {
		case rerr == nil && sg == nil:
			return providers.ApplyResponse{}, fmt.Errorf("update %s: security group %s no longer exists (deleted outside ferry?); run ferry plan again to create it anew", req.Addr, id)
		case rerr == nil:
			return providers.ApplyResponse{State: g.c.groupState(*sg, req.Prior)}, g.c.fail("update", req.Addr, err)
		}
		return providers.ApplyResponse{}, g.c.fail("update", req.Addr, err)
	}
	st := spec.CloneMap(req.Prior)
	for k, v := range a.args {
		st[k] = v
	}
	return providers.ApplyResponse{State: st}, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (g *securityGroup) delete(ctx context.Context, req providers.ApplyRequest) error {
	if err := checkCtx(ctx, "delete", req.Addr); err != nil {
		return err
	}
	id, err := idOf("delete", req.Addr, req.Prior)
	if err != nil {
		return err
	}
	_, err = g.c.ec2.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(id)})
	switch {
	case err == nil || isNotFound(err):
		return nil // gone already: a crashed apply deletes again
	case errorCode(err) == "DependencyViolation":
		re := g.c.fail("delete", req.Addr, callErr("ec2:DeleteSecurityGroup", err)).(*ResourceError)
		re.Hint = fmt.Sprintf("security group %s is still used (by an instance, a network interface, or another group's rule): delete or change those first", id)
		return re
	default:
		return g.c.fail("delete", req.Addr, callErr("ec2:DeleteSecurityGroup", err))
	}
}

func (g *securityGroup) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	return readOne(ctx, g, req)
}

// ReadMany reads the groups with one DescribeSecurityGroups per page of
// IDs.
func (g *securityGroup) ReadMany(ctx context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	ids, err := idsOf(reqs)
	if err != nil {
		return nil, err
	}
	found, err := g.c.findSecurityGroupsByIDs(ctx, ids)
	if err != nil {
		return nil, g.c.fail("read", batchName(reqs), err)
	}
	out := make([]providers.ReadResponse, len(reqs))
	for i, req := range reqs {
		if sg, ok := found[ids[i]]; ok {
			out[i].State = g.c.groupState(sg, req.Prior)
		}
	}
	return out, nil
}

// Import adopts a security group by its ID.
func (g *securityGroup) Import(ctx context.Context, req providers.ImportRequest) (providers.ImportResponse, error) {
	if !strings.HasPrefix(req.ID, "sg-") {
		return providers.ImportResponse{}, fmt.Errorf("import %s: %q is not a security group ID; give its sg-... ID", req.Addr, req.ID)
	}
	sg, err := g.c.findSecurityGroupByID(ctx, req.ID)
	if err != nil {
		return providers.ImportResponse{}, g.c.fail("import", req.Addr, err)
	}
	if sg == nil {
		return providers.ImportResponse{}, fmt.Errorf("import %s: no security group %q in %s (region %s)", req.Addr, req.ID, g.c.name, g.c.region)
	}
	return providers.ImportResponse{State: g.c.groupState(*sg, nil)}, nil
}

// Adopt finds the group a create with req.Token made, by its token tag.
func (g *securityGroup) Adopt(ctx context.Context, req providers.AdoptRequest) (providers.ReadResponse, error) {
	if req.Token == "" {
		return providers.ReadResponse{}, nil
	}
	sg, err := g.c.findSecurityGroupByToken(ctx, req.Token)
	if err != nil {
		return providers.ReadResponse{}, g.c.fail("adopt", req.Addr, err)
	}
	if sg == nil {
		return providers.ReadResponse{}, nil
	}
	return providers.ReadResponse{State: g.c.groupState(*sg, req.Planned)}, nil
}
