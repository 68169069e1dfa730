package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// Route53RecordType is a record set of a Route53 hosted zone.
const Route53RecordType = "aws.route53_record"

// defaultTTL is the ttl of a record whose configuration gives none.
const defaultTTL = 300

// recordTypes are the record types Route53 serves.
var recordTypes = []string{"A", "AAAA", "CAA", "CNAME", "DS", "HTTPS", "MX", "NAPTR", "NS", "PTR", "SOA", "SPF", "SRV", "SSHFP", "SVCB", "TLSA", "TXT"}

func route53RecordSchema() spec.Schema {
	return spec.Schema{
		Type: Route53RecordType,
		Doc:  "A DNS record set of a Route53 hosted zone: values with a TTL, or an alias of another AWS name. A record is named by its zone, name and type: ferry refuses to create one that exists already (import it instead).",
		Attrs: []spec.Attr{
			{Name: "zone_id", Kind: spec.KindString, Required: true, ForceNew: true, Doc: "The hosted zone, such as an aws.route53_zone's id."},
			{Name: "record_name", Kind: spec.KindString, Required: true, ForceNew: true, Doc: `The full domain name, such as "www.example.com" or "*.example.com"; a trailing dot and upper case make no difference.`},
			{Name: "type", Kind: spec.KindString, Required: true, ForceNew: true, Doc: "The record type: " + strings.Join(recordTypes, ", ") + "."},
			{Name: "ttl", Kind: spec.KindNumber, Optional: true, Doc: "Seconds resolvers may cache the values; default 300 with records. Not with alias."},
			{Name: "records", Kind: spec.KindList, Optional: true, Doc: `The values, such as ["192.0.2.1"], or ["\"v=spf1 -all\""] for TXT; change in place. Either records or alias.`},
			{Name: "alias", Kind: spec.KindMap, Optional: true, Doc: `An alias of another AWS name: {"zone_id": ..., "name": ..., "evaluate_target_health": False}; change in place. Either records or alias.`},
			{Name: "id", Kind: spec.KindString, Computed: true, Doc: "ZONE_NAME_TYPE, such as Z123_www.example.com_A: what ferry import takes."},
		},
	}
}

// route53Record is aws.route53_record. A record has no tags and no
// client token: it is named by its zone, name and type, so a killed
// create either made it or did not, and Adopt returns the record when it
// holds the planned values.
type route53Record struct{ c *Client }

var (
	_ providers.BatchReader = (*route53Record)(nil)
	_ providers.Importer    = (*route53Record)(nil)
	_ providers.Adopter     = (*route53Record)(nil)
)

func (r *route53Record) client() *Client     { return r.c }
func (r *route53Record) Schema() spec.Schema { return route53RecordSchema() }

// recordID is the id attribute and import ID of a record.
func recordID(zone, name, typ string) string {
	return bareZoneID(zone) + "_" + normDomain(name) + "_" + typ
}

// parseRecordID splits an import ID: the zone ends at the first _, the
// type starts after the last (a name may hold _, as _dmarc.example.com).
func parseRecordID(id string) (zone, name, typ string, ok bool) {
	zone, rest, ok1 := strings.Cut(id, "_")
	i := strings.LastIndex(rest, "_")
	if !ok1 || i < 0 {
		return "", "", "", false
	}
	name, typ = rest[:i], rest[i+1:]
	return bareZoneID(zone), name, typ, zone != "" && name != "" && slices.Contains(recordTypes, typ)
}

func sameRecord(name string, config, prior any) bool {
	c, cok := config.(string)
	p, pok := prior.(string)
	switch {
	case !cok || !pok:
	case name == "record_name":
		return normDomain(c) == normDomain(p)
	case name == "zone_id":
		return bareZoneID(c) == bareZoneID(p)
	}
	return equal(config, prior)
}

func (r *route53Record) Plan(_ context.Context, req providers.PlanRequest) (providers.PlanResponse, error) {
	resp, err := planAttrs(route53RecordSchema(), req, sameRecord)
	if err != nil {
		return resp, err
	}
	p := resp.Planned
	if typ, ok := p["type"].(string); ok && !slices.Contains(recordTypes, typ) {
		return providers.PlanResponse{}, fmt.Errorf("%s: argument \"type\" = %q: want one of %s (in upper case)", req.Addr, typ, strings.Join(recordTypes, ", "))
	}
	if name, ok := p["record_name"].(string); ok && normDomain(name) == "" {
		return providers.PlanResponse{}, fmt.Errorf("%s: argument \"record_name\" is empty; give the full domain name, such as \"www.example.com\"", req.Addr)
	}
	if _, err := recordValues(req.Addr, p["records"]); err != nil {
		return providers.PlanResponse{}, err
	}
	if _, err := aliasOf(req.Addr, p["alias"]); err != nil {
		return providers.PlanResponse{}, err
	}
	switch {
	case p["alias"] != nil && p["records"] != nil:
		return providers.PlanResponse{}, fmt.Errorf("%s: give either records or alias, not both", req.Addr)
	case p["alias"] != nil && p["ttl"] != nil:
		return providers.PlanResponse{}, fmt.Errorf("%s: an alias takes no ttl (resolvers cache it as long as its target); leave ttl out", req.Addr)
	case p["alias"] == nil && p["records"] == nil:
		return providers.PlanResponse{}, fmt.Errorf("%s: give records (the values) or alias (another AWS name)", req.Addr)
	case p["records"] != nil && p["ttl"] == nil:
		p["ttl"] = spec.Number(defaultTTL)
	}
	if ttl, ok := p["ttl"].(json.Number); ok {
		if n, err := ttl.Int64(); err != nil || n < 0 || n > 2147483647 {
			return providers.PlanResponse{}, fmt.Errorf("%s: argument \"ttl\" = %s: want whole seconds from 0 to 2147483647", req.Addr, ttl)
		}
	}
	zone, zok := p["zone_id"].(string)
	name, nok := p["record_name"].(string)
	typ, tok := p["type"].(string)
	if zok && nok && tok {
		p["id"] = recordID(zone, name, typ)
	}
	return resp, nil
}

// recordValues reads the records argument: a list of strings; nil when
// absent or unknown.
func recordValues(addr string, v any) ([]string, error) {
	if v == nil || spec.HasUnknown(v) {
		return nil, nil
	}
	list, _ := v.([]any)
	if len(list) == 0 {
		return nil, fmt.Errorf("%s: argument \"records\" is empty; give at least one value, or leave it out for an alias", addr)
	}
	out := make([]string, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok || s == "" {
			return nil, fmt.Errorf("%s: records[%d] = %s: want a non-empty string", addr, i, spec.Render(e))
		}
		out[i] = s
	}
	return out, nil
}

// alias is an alias argument, read.
type alias struct {
	zone, name     string
	evaluateHealth bool
}

func (a alias) same(b alias) bool {
	return bareZoneID(a.zone) == bareZoneID(b.zone) && normDomain(a.name) == normDomain(b.name) && a.evaluateHealth == b.evaluateHealth
}

// aliasOf reads the alias argument; nil when absent or unknown.
func aliasOf(addr string, v any) (*alias, error) {
	if v == nil || spec.HasUnknown(v) {
		return nil, nil
	}
	m := v.(map[string]any)
	var a alias
	for _, k := range slices.Sorted(maps.Keys(m)) {
		var ok bool
		switch k {
		case "zone_id":
			a.zone, ok = m[k].(string)
		case "name":
			a.name, ok = m[k].(string)
		case "evaluate_target_health":
			a.evaluateHealth, ok = m[k].(bool)
		default:
			return nil, fmt.Errorf("%s: alias: unknown key %q; an alias takes zone_id, name and evaluate_target_health", addr, k)
		}
		if !ok {
			return nil, fmt.Errorf("%s: alias: %q = %s has the wrong kind", addr, k, spec.Render(m[k]))
		}
	}
	if a.zone == "" || a.name == "" {
		return nil, fmt.Errorf("%s: alias needs zone_id and name (the target's hosted zone and DNS name)", addr)
	}
	return &a, nil
}

// recordSet is the record set of a record's arguments.
func recordSet(addr string, args map[string]any) (types.ResourceRecordSet, error) {
	rs := types.ResourceRecordSet{Name: aws.String(str(args, "record_name")), Type: types.RRType(str(args, "type"))}
	values, err := recordValues(addr, args["records"])
	if err != nil {
		return rs, err
	}
	for _, v := range values {
		rs.ResourceRecords = append(rs.ResourceRecords, types.ResourceRecord{Value: aws.String(v)})
	}
	if ttl, ok := args["ttl"].(json.Number); ok {
		n, _ := ttl.Int64()
		rs.TTL = aws.Int64(n)
	}
	a, err := aliasOf(addr, args["alias"])
	if err != nil {
		return rs, err
	}
	if a != nil {
		rs.AliasTarget = &types.AliasTarget{HostedZoneId: aws.String(bareZoneID(a.zone)), DNSName: aws.String(a.name), EvaluateTargetHealth: a.evaluateHealth}
	}
	return rs, nil
}

// recordState is a record's state as Route53 lists it. prior (planned
// arguments, or nil) keeps its spelling of the zone, the name and the
// alias, and its order of the values, where they mean the same.
func recordState(rs types.ResourceRecordSet, zone string, prior map[string]any) map[string]any {
	name := normDomain(aws.ToString(rs.Name))
	if p := str(prior, "record_name"); p != "" && normDomain(p) == name {
		name = p
	}
	if p := str(prior, "zone_id"); p != "" && bareZoneID(p) == bareZoneID(zone) {
		zone = p
	}
	st := map[string]any{
		"zone_id":     zone,
		"record_name": name,
		"type":        string(rs.Type),
		"ttl":         nil,
		"records":     nil,
		"alias":       nil,
		"id":          recordID(zone, name, string(rs.Type)),
	}
	if rs.TTL != nil {
		st["ttl"] = spec.Number(*rs.TTL)
	}
	if len(rs.ResourceRecords) > 0 {
		var values []any
		for _, v := range rs.ResourceRecords {
			values = append(values, aws.ToString(v.Value))
		}
		if p, ok := prior["records"].([]any); ok && sameValues(p, values) {
			values = spec.Clone(p).([]any)
		}
		st["records"] = values
	}
	if t := rs.AliasTarget; t != nil {
		got := alias{zone: aws.ToString(t.HostedZoneId), name: aws.ToString(t.DNSName), evaluateHealth: t.EvaluateTargetHealth}
		st["alias"] = map[string]any{"zone_id": got.zone, "name": normDomain(got.name), "evaluate_target_health": got.evaluateHealth}
		if p, err := aliasOf("", prior["alias"]); err == nil && p != nil && p.same(got) {
			st["alias"] = spec.Clone(prior["alias"])
		}
	}
	return st
}

// sameValues reports whether a and b hold the same values, in any order:
// Route53 keeps a record's values as a set.
func sameValues(a, b []any) bool {
	render := func(l []any) []string {
		out := make([]string, len(l))
		for i, v := range l {
			out[i] = spec.Render(v)
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(render(a), render(b))
}

func (r *route53Record) Apply(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	return applyFuncs{r.create, r.update, r.delete}.apply(ctx, req)
}

// applyArgs reads a record's planned arguments for an apply.
func (r *route53Record) applyArgs(verb string, req providers.ApplyRequest) (map[string]any, types.ResourceRecordSet, error) {
	args, err := knownArguments(route53RecordSchema(), verb, req.Addr, req.Planned)
	if err != nil {
		return nil, types.ResourceRecordSet{}, err
	}
	rs, err := recordSet(req.Addr, args)
	if err != nil {
		return nil, rs, fmt.Errorf("%s %w", verb, err)
	}
	return args, rs, nil
}

// create makes the record with a CREATE change. AWS refuses to CREATE a
// record that exists; moto accepts it and keeps both, so the tests
// cannot rely on the refusal: create looks for the record first, so that
// ferry never takes over a record it did not make, on moto or on AWS.
func (r *route53Record) create(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "create", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	args, rs, err := r.applyArgs("create", req)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	zone, name := str(args, "zone_id"), str(args, "record_name")
	existing, gone, err := r.c.findRecordSet(ctx, zone, name, rs.Type)
	switch {
	case err != nil:
		return providers.ApplyResponse{}, r.c.fail("create", req.Addr, err)
	case gone:
		return providers.ApplyResponse{}, fmt.Errorf("create %s: hosted zone %s does not exist; check zone_id", req.Addr, zone)
	case existing != nil:
		return providers.ApplyResponse{}, r.exists(req.Addr, args)
	}
	err = r.c.changeRecordSets(ctx, zone, types.Change{Action: types.ChangeActionCreate, ResourceRecordSet: &rs})
	if err != nil {
		if errorCode(err) == "InvalidChangeBatch" && strings.Contains(shortError(err), "already exists") {
			// Made since the look: by this very CREATE when the SDK
			// retried it after a slow answer (the record holds exactly
			// these values then), else by someone else.
			if got, aerr := r.Adopt(ctx, providers.AdoptRequest{Addr: req.Addr, Planned: req.Planned}); aerr == nil && got.State != nil {
				return providers.ApplyResponse{State: got.State}, nil
			}
			return providers.ApplyResponse{}, r.exists(req.Addr, args)
		}
		return providers.ApplyResponse{}, r.c.fail("create", req.Addr, err)
	}
	st := spec.CloneMap(args)
	for _, k := range []string{"ttl", "records", "alias"} {
		if _, ok := st[k]; !ok {
			st[k] = nil
		}
	}
	st["id"] = recordID(zone, name, string(rs.Type))
	return providers.ApplyResponse{State: st}, nil
}

// exists is the error of a create whose record exists already.
func (r *route53Record) exists(addr string, args map[string]any) error {
	id := recordID(str(args, "zone_id"), str(args, "record_name"), str(args, "type"))
	return fmt.Errorf("create %s: a %s record %s exists already in hosted zone %s and this deployment did not make it: take it over with ferry import %s %s, or remove it first", addr, str(args, "type"), str(args, "record_name"), bareZoneID(str(args, "zone_id")), addr, id)
}

// update replaces the record's values, ttl or alias with an UPSERT.
func (r *route53Record) update(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "update", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	args, rs, err := r.applyArgs("update", req)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	zone := str(args, "zone_id")
	err = r.c.changeRecordSets(ctx, zone, types.Change{Action: types.ChangeActionUpsert, ResourceRecordSet: &rs})
	if isNoSuchZone(err) {
		return providers.ApplyResponse{}, fmt.Errorf("update %s: hosted zone %s no longer exists (deleted outside ferry?); run ferry plan again", req.Addr, zone)
	}
	if err != nil {
		return providers.ApplyResponse{}, r.c.fail("update", req.Addr, err)
	}
	st := spec.CloneMap(req.Prior)
	for _, a := range route53RecordSchema().Attrs {
		if a.Name != "id" {
			st[a.Name] = args[a.Name]
		}
	}
	return providers.ApplyResponse{State: st}, nil
}

// delete reads the record and deletes it with the values it has: a
// DELETE must name them exactly, and they may have changed outside
// ferry. A record or zone that is gone already is deleted.
func (r *route53Record) delete(ctx context.Context, req providers.ApplyRequest) error {
	if err := checkCtx(ctx, "delete", req.Addr); err != nil {
		return err
	}
	zone, name, typ := str(req.Prior, "zone_id"), str(req.Prior, "record_name"), str(req.Prior, "type")
	if zone == "" || name == "" || typ == "" {
		return fmt.Errorf("delete %s: the state lacks zone_id, record_name or type; remove it with `ferry state rm %s`", req.Addr, req.Addr)
	}
	rs, gone, err := r.c.findRecordSet(ctx, zone, name, types.RRType(typ))
	if err != nil {
		return r.c.fail("delete", req.Addr, err)
	}
	if gone || rs == nil {
		return nil
	}
	err = r.c.changeRecordSets(ctx, zone, types.Change{Action: types.ChangeActionDelete, ResourceRecordSet: rs})
	if isNoSuchZone(err) || (errorCode(err) == "InvalidChangeBatch" && strings.Contains(shortError(err), "not found")) {
		return nil // deleted meanwhile
	}
	return r.c.fail("delete", req.Addr, err)
}

func (r *route53Record) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	return readOne(ctx, r, req)
}

// ReadMany reads the records zone by zone: one record of a zone with one
// ListResourceRecordSets starting at it, several with every page of the
// zone's records (up to 300 a call), so that N records of a zone cost
// about its size / 300 calls, not N.
func (r *route53Record) ReadMany(ctx context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	byZone := map[string][]int{}
	for i, req := range reqs {
		zone := bareZoneID(str(req.Prior, "zone_id"))
		if zone == "" || str(req.Prior, "record_name") == "" || str(req.Prior, "type") == "" {
			return nil, fmt.Errorf("read %s: the state lacks zone_id, record_name or type; remove it with `ferry state rm %s` and import the record again", req.Addr, req.Addr)
		}
		byZone[zone] = append(byZone[zone], i)
	}
	out := make([]providers.ReadResponse, len(reqs))
	for _, zone := range slices.Sorted(maps.Keys(byZone)) {
		idx := byZone[zone]
		var sets []types.ResourceRecordSet
		var err error
		if len(idx) == 1 {
			prior := reqs[idx[0]].Prior
			var rs *types.ResourceRecordSet
			rs, _, err = r.c.findRecordSet(ctx, zone, str(prior, "record_name"), types.RRType(str(prior, "type")))
			if rs != nil {
				sets = append(sets, *rs)
			}
		} else {
			sets, _, err = r.c.listRecordSets(ctx, zone)
		}
		if err != nil {
			return nil, r.c.fail("read", batchName(reqs), err)
		}
		for _, i := range idx {
			prior := reqs[i].Prior
			for _, s := range sets {
				if isRecord(s, str(prior, "record_name"), types.RRType(str(prior, "type"))) {
					out[i].State = recordState(s, str(prior, "zone_id"), prior)
					break
				}
			}
		}
	}
	return out, nil
}

// Import adopts a record by its ID, ZONE_NAME_TYPE.
func (r *route53Record) Import(ctx context.Context, req providers.ImportRequest) (providers.ImportResponse, error) {
	zone, name, typ, ok := parseRecordID(req.ID)
	if !ok {
		return providers.ImportResponse{}, fmt.Errorf("import %s: %q is not a record ID; give ZONE_NAME_TYPE, such as Z0123456789ABC_www.example.com_A", req.Addr, req.ID)
	}
	rs, _, err := r.c.findRecordSet(ctx, zone, name, types.RRType(typ))
	if err != nil {
		return providers.ImportResponse{}, r.c.fail("import", req.Addr, err)
	}
	if rs == nil {
		return providers.ImportResponse{}, fmt.Errorf("import %s: no %s record %s in hosted zone %s (ID %q); list them with aws route53 list-resource-record-sets --hosted-zone-id %s%s", req.Addr, typ, name, zone, req.ID, zone, r.c.profileFlag())
	}
	return providers.ImportResponse{State: recordState(*rs, zone, nil)}, nil
}

// Adopt returns the record a killed create was to make when it exists
// with the planned values: the create made it (or someone made the very
// same record, which comes to the same). A record of other values is not
// the create's: nil, and the create's retry refuses it.
func (r *route53Record) Adopt(ctx context.Context, req providers.AdoptRequest) (providers.ReadResponse, error) {
	args, err := knownArguments(route53RecordSchema(), "adopt", req.Addr, req.Planned)
	if err != nil {
		return providers.ReadResponse{}, err
	}
	zone, name, typ := str(args, "zone_id"), str(args, "record_name"), str(args, "type")
	rs, _, err := r.c.findRecordSet(ctx, zone, name, types.RRType(typ))
	if err != nil {
		return providers.ReadResponse{}, r.c.fail("adopt", req.Addr, err)
	}
	if rs == nil {
		return providers.ReadResponse{}, nil
	}
	st := recordState(*rs, zone, req.Planned)
	for _, k := range []string{"ttl", "records", "alias"} {
		if !equal(st[k], args[k]) {
			return providers.ReadResponse{}, nil
		}
	}
	return providers.ReadResponse{State: st}, nil
}
