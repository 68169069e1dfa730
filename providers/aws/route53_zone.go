package aws

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// Route53ZoneType is a Route53 hosted zone.
const Route53ZoneType = "aws.route53_zone"

func route53ZoneSchema() spec.Schema {
	return spec.Schema{
		Type: Route53ZoneType,
		Doc:  "A Route53 hosted zone, public or private to a VPC. Its records are aws.route53_record resources; name_servers are what the parent domain delegates to.",
		Attrs: []spec.Attr{
			{Name: "zone_name", Kind: spec.KindString, Required: true, ForceNew: true, Doc: `The domain, such as "example.com"; a trailing dot and upper case make no difference. The state keeps it as written.`},
			{Name: "comment", Kind: spec.KindString, Optional: true, Default: "Managed by ferry", Doc: "A comment; changes in place."},
			{Name: "private", Kind: spec.KindBool, Optional: true, Default: false, ForceNew: true, Doc: "A private zone, answered only inside vpc_id."},
			{Name: "vpc_id", Kind: spec.KindString, Optional: true, ForceNew: true, Doc: "The VPC of a private zone (required with private = True)."},
			{Name: "vpc_region", Kind: spec.KindString, Optional: true, ForceNew: true, Doc: "The region of vpc_id; default the provider's region."},
			{Name: "force_destroy", Kind: spec.KindBool, Optional: true, Default: false, Doc: "Delete every record of the zone (but its own NS and SOA) when deleting it. Without it, deleting a zone that still has records fails. Takes effect once applied."},
			{Name: "tags", Kind: spec.KindMap, Optional: true, Default: map[string]any{}, Doc: "Tags; change in place."},
			{Name: "id", Kind: spec.KindString, Computed: true, Doc: "The zone ID, Z... (without /hostedzone/)."},
			{Name: "name_servers", Kind: spec.KindList, Computed: true, Doc: "The name servers of a public zone, to delegate the domain to; [] for a private zone."},
		},
	}
}

// route53Zone is aws.route53_zone. A create passes its token as
// CreateHostedZone's CallerReference, Route53's idempotency key: a
// retried create is refused with HostedZoneAlreadyExists, and finds the
// zone by the reference; Adopt finds it the same way. moto ignores the
// reference (a second create makes a second zone), so the test of a
// retried create puts AWS's refusal in front of moto.
//
// A read refreshes name, comment, privacy and tags from ListHostedZones
// and ListTagsForResources, in pages; name_servers and the VPC are fixed
// for a zone's life (ForceNew) and kept from the prior state, so VPCs
// associated with the zone outside ferry do not show.
type route53Zone struct{ c *Client }

var (
	_ providers.BatchReader = (*route53Zone)(nil)
	_ providers.Importer    = (*route53Zone)(nil)
	_ providers.Adopter     = (*route53Zone)(nil)
)

func (z *route53Zone) client() *Client     { return z.c }
func (z *route53Zone) Schema() spec.Schema { return route53ZoneSchema() }

func sameZoneName(name string, config, prior any) bool {
	c, cok := config.(string)
	p, pok := prior.(string)
	if name == "zone_name" && cok && pok {
		return normDomain(c) == normDomain(p)
	}
	return equal(config, prior)
}

func (z *route53Zone) Plan(_ context.Context, req providers.PlanRequest) (providers.PlanResponse, error) {
	resp, err := planAttrs(route53ZoneSchema(), req, sameZoneName)
	if err != nil {
		return resp, err
	}
	p := resp.Planned
	if _, err := tagArgs(req.Addr, p); err != nil {
		return providers.PlanResponse{}, err
	}
	if name, ok := p["zone_name"].(string); ok && (normDomain(name) == "" || len(name) > 1024) {
		return providers.PlanResponse{}, fmt.Errorf("%s: argument \"zone_name\" = %q: want a domain such as \"example.com\"", req.Addr, name)
	}
	if c, ok := p["comment"].(string); ok && len(c) > 256 {
		return providers.PlanResponse{}, fmt.Errorf("%s: argument \"comment\" has %d characters; Route53 takes at most 256", req.Addr, len(c))
	}
	private, known := p["private"].(bool)
	switch {
	case !known:
	case private && p["vpc_id"] == nil:
		return providers.PlanResponse{}, fmt.Errorf("%s: a private zone needs vpc_id, the VPC that sees it", req.Addr)
	case !private && (p["vpc_id"] != nil || p["vpc_region"] != nil):
		return providers.PlanResponse{}, fmt.Errorf("%s: vpc_id and vpc_region are for private zones: set private = True, or leave them out", req.Addr)
	case private && p["vpc_region"] == nil:
		p["vpc_region"] = z.c.region
		if req.Prior != nil && !slices.Contains(resp.RequiresReplace, "vpc_region") && !equal(req.Prior["vpc_region"], p["vpc_region"]) {
			resp.RequiresReplace = append(resp.RequiresReplace, "vpc_region")
			slices.Sort(resp.RequiresReplace)
		}
	}
	return resp, nil
}

func (z *route53Zone) Apply(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	return applyFuncs{z.create, z.update, z.delete}.apply(ctx, req)
}

// create makes the zone with the token as its caller reference, then
// tags it. A failure after the zone exists returns it, so that the engine
// records it (tainted) instead of losing it.
func (z *route53Zone) create(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "create", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	args, err := knownArguments(route53ZoneSchema(), "create", req.Addr, req.Planned)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	tags, err := tagArgs(req.Addr, args)
	if err != nil {
		return providers.ApplyResponse{}, fmt.Errorf("create %w", err)
	}
	name := str(args, "zone_name")
	ref := req.Token
	if ref == "" { // nothing to retry with: any unique reference
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		ref = "ferry-" + hex.EncodeToString(b)
	}
	private, _ := args["private"].(bool)
	in := &route53.CreateHostedZoneInput{
		Name:             aws.String(name),
		CallerReference:  aws.String(ref),
		HostedZoneConfig: &types.HostedZoneConfig{Comment: aws.String(str(args, "comment")), PrivateZone: private},
	}
	if private {
		in.VPC = &types.VPC{VPCId: aws.String(str(args, "vpc_id")), VPCRegion: types.VPCRegion(str(args, "vpc_region"))}
	}
	st := spec.CloneMap(args)
	for _, k := range []string{"vpc_id", "vpc_region"} {
		if _, ok := st[k]; !ok {
			st[k] = nil
		}
	}
	out, err := z.c.route53.CreateHostedZone(ctx, in)
	switch {
	case errorCode(err) == "HostedZoneAlreadyExists":
		// A retried create: the first attempt made the zone.
		found, ferr := z.c.findZoneByCallerReference(ctx, name, ref)
		if ferr != nil {
			return providers.ApplyResponse{}, z.c.fail("create", req.Addr, ferr)
		}
		if found == nil {
			return providers.ApplyResponse{}, fmt.Errorf("create %s: route53:CreateHostedZone: Route53 says a zone was made with this create's token (caller reference %s), but no zone %s has it: it was deleted since; run ferry plan again (a new plan has a new token)", req.Addr, ref, name)
		}
		got, ferr := z.c.findZone(ctx, aws.ToString(found.Id))
		if ferr != nil || got == nil {
			if ferr == nil {
				ferr = fmt.Errorf("hosted zone %s vanished while ferry read it", bareZoneID(aws.ToString(found.Id)))
			}
			return providers.ApplyResponse{}, z.c.fail("create", req.Addr, ferr)
		}
		st["id"], st["name_servers"] = bareZoneID(aws.ToString(found.Id)), nameServers(got.DelegationSet)
	case err != nil:
		re := z.c.fail("create", req.Addr, callErr("route53:CreateHostedZone", err)).(*ResourceError)
		if errorCode(err) == "ConflictingDomainExists" || errorCode(err) == "InvalidDomainName" {
			re.Hint = fmt.Sprintf("check zone_name %q", name)
		}
		return providers.ApplyResponse{}, re
	default:
		st["id"], st["name_servers"] = bareZoneID(aws.ToString(out.HostedZone.Id)), nameServers(out.DelegationSet)
	}
	id := st["id"].(string)
	if err := z.c.updateZoneTags(ctx, id, nil, tags); err != nil {
		st["tags"] = map[string]any{} // some may be set: the next plan shows
		return providers.ApplyResponse{State: st}, fmt.Errorf("%w (hosted zone %s was made; the next plan replaces it)", z.c.fail("create", req.Addr, err), id)
	}
	return providers.ApplyResponse{State: st}, nil
}

// nameServers is the name_servers attribute: [] for a private zone,
// which has no delegation set.
func nameServers(ds *types.DelegationSet) []any {
	out := []any{}
	if ds != nil {
		for _, ns := range ds.NameServers {
			out = append(out, ns)
		}
	}
	return out
}

// updateZoneTags makes the tags of zone id go from prior to want, in
// calls of at most ten keys added and ten removed (Route53's limit).
func (c *Client) updateZoneTags(ctx context.Context, id string, prior, want map[string]string) error {
	var add []types.Tag
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if v, had := prior[k]; !had || v != want[k] {
			add = append(add, types.Tag{Key: aws.String(k), Value: aws.String(want[k])})
		}
	}
	var remove []string
	for _, k := range slices.Sorted(maps.Keys(prior)) {
		if _, keep := want[k]; !keep {
			remove = append(remove, k)
		}
	}
	for len(add) > 0 || len(remove) > 0 {
		in := &route53.ChangeTagsForResourceInput{ResourceType: types.TagResourceTypeHostedzone, ResourceId: aws.String(id)}
		n := min(len(add), maxTagIDs)
		in.AddTags, add = add[:n], add[n:]
		n = min(len(remove), maxTagIDs)
		in.RemoveTagKeys, remove = remove[:n], remove[n:]
		if _, err := c.route53.ChangeTagsForResource(ctx, in); err != nil {
			return callErr("route53:ChangeTagsForResource", err)
		}
	}
	return nil
}

// zoneState is a zone's state as Route53 lists it, with its tags. What a
// listing does not show (name servers, the VPC, force_destroy) comes from
// get when given, else from prior; zone_name keeps prior's spelling of
// the same name.
func zoneState(hz types.HostedZone, tags map[string]any, get *route53.GetHostedZoneOutput, prior map[string]any) map[string]any {
	name := normDomain(aws.ToString(hz.Name))
	if p := str(prior, "zone_name"); p != "" && normDomain(p) == name {
		name = p
	}
	if tags == nil {
		tags = map[string]any{}
	}
	st := map[string]any{
		"id":            bareZoneID(aws.ToString(hz.Id)),
		"zone_name":     name,
		"comment":       "",
		"private":       false,
		"force_destroy": false,
		"tags":          tags,
		"vpc_id":        spec.Clone(prior["vpc_id"]),
		"vpc_region":    spec.Clone(prior["vpc_region"]),
		"name_servers":  spec.Clone(prior["name_servers"]),
	}
	if hz.Config != nil {
		st["comment"], st["private"] = aws.ToString(hz.Config.Comment), hz.Config.PrivateZone
	}
	if fd, ok := prior["force_destroy"].(bool); ok {
		st["force_destroy"] = fd
	}
	if get != nil {
		st["name_servers"] = nameServers(get.DelegationSet)
		st["vpc_id"], st["vpc_region"] = nil, nil
		if len(get.VPCs) > 0 {
			st["vpc_id"], st["vpc_region"] = aws.ToString(get.VPCs[0].VPCId), string(get.VPCs[0].VPCRegion)
		}
	}
	if !st["private"].(bool) {
		st["vpc_id"], st["vpc_region"] = nil, nil
	}
	return st
}

// update changes the comment and the tags in place; force_destroy and
// the spelling of zone_name are ferry's own and only change the state.
func (z *route53Zone) update(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "update", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	id, err := idOf("update", req.Addr, req.Prior)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	args, err := knownArguments(route53ZoneSchema(), "update", req.Addr, req.Planned)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	want, err := tagArgs(req.Addr, args)
	if err != nil {
		return providers.ApplyResponse{}, fmt.Errorf("update %w", err)
	}
	had, _ := stringMap(req.Addr, "tags", req.Prior["tags"])
	if comment := str(args, "comment"); comment != str(req.Prior, "comment") {
		_, err = z.c.route53.UpdateHostedZoneComment(ctx, &route53.UpdateHostedZoneCommentInput{Id: aws.String(id), Comment: aws.String(comment)})
		err = callErr("route53:UpdateHostedZoneComment", err)
	}
	if err == nil {
		err = z.c.updateZoneTags(ctx, id, had, want)
	}
	if isNoSuchZone(err) {
		return providers.ApplyResponse{}, fmt.Errorf("update %s: hosted zone %s no longer exists (deleted outside ferry?); run ferry plan again to create it anew", req.Addr, id)
	}
	if err != nil {
		return providers.ApplyResponse{}, z.c.fail("update", req.Addr, err)
	}
	st := updatedState(req.Prior, args)
	return providers.ApplyResponse{State: st}, nil
}

// delete deletes the zone; with force_destroy, its records first.
func (z *route53Zone) delete(ctx context.Context, req providers.ApplyRequest) error {
	if err := checkCtx(ctx, "delete", req.Addr); err != nil {
		return err
	}
	id, err := idOf("delete", req.Addr, req.Prior)
	if err != nil {
		return err
	}
	if force, _ := req.Prior["force_destroy"].(bool); force {
		if err := z.c.deleteZoneRecords(ctx, id); err != nil {
			return z.c.fail("delete", req.Addr, err)
		}
	}
	_, err = z.c.route53.DeleteHostedZone(ctx, &route53.DeleteHostedZoneInput{Id: aws.String(id)})
	switch {
	case err == nil || errorCode(err) == "NoSuchHostedZone":
		return nil // gone already: a crashed apply deletes again
	case errorCode(err) == "HostedZoneNotEmpty":
		re := z.c.fail("delete", req.Addr, callErr("route53:DeleteHostedZone", err)).(*ResourceError)
		re.Hint = fmt.Sprintf("hosted zone %s (%s) still has records: delete them first, or set force_destroy = True on %s and apply before deleting it, to have ferry delete them with the zone", str(req.Prior, "zone_name"), id, req.Addr)
		return re
	default:
		return z.c.fail("delete", req.Addr, callErr("route53:DeleteHostedZone", err))
	}
}

// deleteZoneRecords deletes every record set of a zone but its own NS
// and SOA, which Route53 deletes with the zone, with the values the
// listing shows (a DELETE must name them exactly).
func (c *Client) deleteZoneRecords(ctx context.Context, id string) error {
	z, err := c.findZone(ctx, id)
	if err != nil || z == nil {
		return err // gone: nothing to delete
	}
	apex := normDomain(aws.ToString(z.HostedZone.Name))
	sets, gone, err := c.listRecordSets(ctx, id)
	if err != nil || gone {
		return err
	}
	var changes []types.Change
	for _, s := range sets {
		if (s.Type == types.RRTypeNs || s.Type == types.RRTypeSoa) && normDomain(aws.ToString(s.Name)) == apex {
			continue
		}
		changes = append(changes, types.Change{Action: types.ChangeActionDelete, ResourceRecordSet: &s})
	}
	for len(changes) > 0 {
		n := min(len(changes), maxChanges)
		if err := c.changeRecordSets(ctx, id, changes[:n]...); err != nil {
			return fmt.Errorf("force_destroy: %w", err)
		}
		changes = changes[n:]
	}
	return nil
}

func (z *route53Zone) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	return readOne(ctx, z, req)
}

// ReadMany reads the zones with ListHostedZones pages (until every zone
// is seen) and one ListTagsForResources per ten zones. GetHostedZone is
// only called for a zone whose prior state lacks its name servers.
func (z *route53Zone) ReadMany(ctx context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	ids, err := idsOf(reqs)
	if err != nil {
		return nil, err
	}
	for i := range ids {
		ids[i] = bareZoneID(ids[i])
	}
	found, err := z.c.findZonesByIDs(ctx, ids)
	if err != nil {
		return nil, z.c.fail("read", batchName(reqs), err)
	}
	tags, err := z.c.zoneTags(ctx, slices.Collect(maps.Keys(found)))
	if err != nil {
		return nil, z.c.fail("read", batchName(reqs), err)
	}
	out := make([]providers.ReadResponse, len(reqs))
	for i, req := range reqs {
		hz, ok := found[ids[i]]
		if !ok {
			continue
		}
		var get *route53.GetHostedZoneOutput
		if req.Prior["name_servers"] == nil {
			if get, err = z.c.findZone(ctx, ids[i]); err != nil {
				return nil, z.c.fail("read", req.Addr, err)
			}
			if get == nil {
				continue // deleted meanwhile
			}
		}
		out[i].State = zoneState(hz, tags[ids[i]], get, req.Prior)
	}
	return out, nil
}

// Import adopts a hosted zone by its ID (Z..., with or without
// /hostedzone/).
func (z *route53Zone) Import(ctx context.Context, req providers.ImportRequest) (providers.ImportResponse, error) {
	id := bareZoneID(req.ID)
	if id == "" || strings.ContainsAny(id, "/ ") {
		return providers.ImportResponse{}, fmt.Errorf("import %s: %q is not a hosted zone ID; give its ID, such as Z0123456789ABC", req.Addr, req.ID)
	}
	st, err := z.state(ctx, id, nil)
	if err != nil {
		return providers.ImportResponse{}, z.c.fail("import", req.Addr, err)
	}
	if st == nil {
		return providers.ImportResponse{}, fmt.Errorf("import %s: no hosted zone %q; list them with aws route53 list-hosted-zones%s", req.Addr, req.ID, z.c.profileFlag())
	}
	return providers.ImportResponse{State: st}, nil
}

// state reads one zone fully (GetHostedZone and its tags); nil when it
// does not exist.
func (z *route53Zone) state(ctx context.Context, id string, prior map[string]any) (map[string]any, error) {
	id = bareZoneID(id)
	get, err := z.c.findZone(ctx, id)
	if err != nil || get == nil {
		return nil, err
	}
	tags, err := z.c.zoneTags(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	return zoneState(*get.HostedZone, tags[id], get, prior), nil
}

// Adopt finds the zone a create with req.Token made: the zone of the
// planned name whose caller reference is the token.
func (z *route53Zone) Adopt(ctx context.Context, req providers.AdoptRequest) (providers.ReadResponse, error) {
	name := str(req.Planned, "zone_name")
	if req.Token == "" || name == "" {
		return providers.ReadResponse{}, nil
	}
	hz, err := z.c.findZoneByCallerReference(ctx, name, req.Token)
	if err != nil || hz == nil {
		return providers.ReadResponse{}, z.c.fail("adopt", req.Addr, err)
	}
	st, err := z.state(ctx, aws.ToString(hz.Id), req.Planned)
	if err != nil {
		return providers.ReadResponse{}, z.c.fail("adopt", req.Addr, err)
	}
	return providers.ReadResponse{State: st}, nil
}
