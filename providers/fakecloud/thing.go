package fakecloud

import (
	"context"
	"fmt"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// ThingType is the ordinary fake resource.
const ThingType = "fake.thing"

// thingVersion is the version of fake.thing's schema: version 0 and 1
// called zone "az"; version 0 had no arn and no secret.
const thingVersion = 2

func thingSchema() spec.Schema {
	return spec.Schema{
		Type:    ThingType,
		Doc:     "An object in the fake cloud, read in batches, importable by id and found again by its creation token.",
		Version: thingVersion,
		Attrs: []spec.Attr{
			{Name: "value", Kind: spec.KindString, Required: true, Doc: "Any string; changes in place."},
			{Name: "zone", Kind: spec.KindString, Optional: true, Default: "a", ForceNew: true, Doc: "Where the object lives; a change replaces it."},
			{Name: "secret", Kind: spec.KindString, Optional: true, Sensitive: true, Doc: "A sensitive string; changes in place."},
			{Name: "id", Kind: spec.KindString, Computed: true, Doc: "thing-<16 hex digits>."},
			{Name: "arn", Kind: spec.KindString, Computed: true, Doc: "arn:fake:<region>:thing/<id>."},
		},
	}
}

func thingKind() kind {
	return kind{
		schema: thingSchema(),
		prefix: "thing",
		computed: func(c *Cloud, o *Object) {
			o.Attrs["arn"] = thingARN(c.cfg.region, o.ID)
		},
	}
}

func thingARN(region, id string) string { return fmt.Sprintf("arn:fake:%s:thing/%s", region, id) }

// thing is fake.thing: every ability of the contract.
type thing struct{ base }

var (
	_ providers.BatchReader   = (*thing)(nil)
	_ providers.Importer      = (*thing)(nil)
	_ providers.Adopter       = (*thing)(nil)
	_ providers.StateUpgrader = (*thing)(nil)
)

// ReadMany reads the objects with one describe call per page of
// page_size requests, as DescribeInstances takes a list of IDs.
func (t *thing) ReadMany(ctx context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, error) {
	out := make([]providers.ReadResponse, len(reqs))
	ids := make([]string, len(reqs))
	for i, req := range reqs {
		id, err := idOf("read", req.Addr, req.Prior)
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}
	page := t.c.cfg.pageSize
	for start := 0; start < len(reqs); start += page {
		end := min(start+page, len(reqs))
		err := t.c.call(ctx, t.callName("describe"), func() error {
			for i := start; i < end; i++ {
				o, ok, err := t.c.store.Get(ThingType, ids[i])
				if err != nil {
					return err
				}
				if ok {
					out[i].State = o.Attrs
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", batchName(reqs[start:end]), err)
		}
	}
	return out, nil
}

// batchName names a page of reads in errors.
func batchName(reqs []providers.ReadRequest) string {
	if len(reqs) == 1 {
		return reqs[0].Addr
	}
	return fmt.Sprintf("%s and %d more", reqs[0].Addr, len(reqs)-1)
}

// UpgradeState brings state of schema version 0 or 1 to version 2: 0 to 1
// adds arn (from the id and this configuration's region) and secret
// (null); 1 to 2 renames az to zone.
func (t *thing) UpgradeState(_ context.Context, req providers.UpgradeRequest) (map[string]any, error) {
	if req.Version < 0 || req.Version > thingVersion {
		return nil, fmt.Errorf("upgrade %s: its state was written by version %d of the %s schema, which this ferry does not know (it knows up to %d); use the ferry that wrote it, or a newer one", req.Addr, req.Version, ThingType, thingVersion)
	}
	st := spec.CloneMap(req.State)
	if st == nil {
		return nil, fmt.Errorf("upgrade %s: no state to upgrade", req.Addr)
	}
	if req.Version < 1 {
		id, ok := st["id"].(string)
		if !ok {
			return nil, fmt.Errorf("upgrade %s from version 0: the state has no id; remove it with `ferry state rm %s` and import the object again", req.Addr, req.Addr)
		}
		st["arn"] = thingARN(t.c.cfg.region, id)
		st["secret"] = nil
	}
	if req.Version < 2 {
		st["zone"] = st["az"]
		delete(st, "az")
	}
	return st, nil
}
