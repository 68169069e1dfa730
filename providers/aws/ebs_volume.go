package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// EBSVolumeType is an EBS volume.
const EBSVolumeType = "aws.ebs_volume"

// volumeTypes are the EBS volume types, and which take iops and
// throughput.
var (
	volumeTypes      = []string{"gp3", "gp2", "io2", "io1", "st1", "sc1", "standard"}
	iopsVolumes      = []string{"gp3", "io1", "io2"}
	throughputVolume = "gp3"
)

func ebsVolumeSchema() spec.Schema {
	return spec.Schema{
		Type: EBSVolumeType,
		Doc:  "An EBS volume in one availability zone. It grows and changes type, IOPS and throughput in place (ModifyVolume); an instance resource attaches it.",
		Attrs: []spec.Attr{
			{Name: "availability_zone", Kind: spec.KindString, Required: true, ForceNew: true, Doc: `The zone, such as "eu-west-1a"; only instances of that zone can attach it.`},
			{Name: "size", Kind: spec.KindNumber, Optional: true, Computed: true, Doc: "The size in GiB; grows in place, never shrinks. Left out with snapshot_id: the snapshot's size."},
			{Name: "volume_type", Kind: spec.KindString, Optional: true, Default: "gp3", Doc: "gp3, gp2, io2, io1, st1, sc1 or standard; changes in place."},
			{Name: "iops", Kind: spec.KindNumber, Optional: true, Computed: true, Doc: "Provisioned IOPS of gp3, io1 and io2 volumes; changes in place. Left out: the type's default."},
			{Name: "throughput", Kind: spec.KindNumber, Optional: true, Computed: true, Doc: "Throughput in MiB/s of a gp3 volume; changes in place. Left out: the type's default."},
			{Name: "encrypted", Kind: spec.KindBool, Optional: true, Computed: true, ForceNew: true, Doc: "Encrypt the volume. Left out: as the snapshot is, or as the account's default encryption says."},
			{Name: "kms_key_id", Kind: spec.KindString, Optional: true, Computed: true, ForceNew: true, Doc: "The KMS key (ID or ARN) of an encrypted volume; left out: the account's default EBS key."},
			{Name: "snapshot_id", Kind: spec.KindString, Optional: true, ForceNew: true, Doc: "A snapshot to make the volume from."},
			{Name: "tags", Kind: spec.KindMap, Optional: true, Default: map[string]any{}, Doc: "Tags; change in place."},
			{Name: "id", Kind: spec.KindString, Computed: true, Doc: "The volume ID, vol-..."},
			{Name: "attached_to", Kind: spec.KindString, Computed: true, Doc: "The instance the volume is attached to, null when it is not."},
		},
	}
}

// ebsVolume is aws.ebs_volume.
type ebsVolume struct{ c *Client }

var (
	_ providers.BatchReader = (*ebsVolume)(nil)
	_ providers.Importer    = (*ebsVolume)(nil)
	_ providers.Adopter     = (*ebsVolume)(nil)
)

func (e *ebsVolume) client() *Client     { return e.c }
func (e *ebsVolume) Schema() spec.Schema { return ebsVolumeSchema() }

func (e *ebsVolume) Plan(_ context.Context, req providers.PlanRequest) (providers.PlanResponse, error) {
	resp, err := planAttrs(ebsVolumeSchema(), req, sameKMSKey)
	if err != nil {
		return resp, err
	}
	p := resp.Planned
	if _, err := tagArgs(req.Addr, p); err != nil {
		return providers.PlanResponse{}, err
	}
	if err := checkVolumeArgs(req.Addr, req.Config); err != nil {
		return providers.PlanResponse{}, err
	}
	if req.Prior == nil || len(resp.RequiresReplace) > 0 {
		return resp, nil
	}
	// An update in place: sizes only grow, and a new type brings its own
	// IOPS and throughput unless the configuration gives them.
	if want, ok := req.Config["size"]; ok && want != nil && !spec.HasUnknown(want) {
		n, _ := wholeNumber(want)
		if had, err := wholeNumber(req.Prior["size"]); err == nil && n < had {
			return providers.PlanResponse{}, fmt.Errorf("%s: argument \"size\" = %d GiB is smaller than the volume's %d GiB; EBS volumes only grow: keep size = %d, or replace the volume (ferry apply --replace %s) after copying its data elsewhere", req.Addr, n, had, had, req.Addr)
		}
	}
	if !equal(p["volume_type"], req.Prior["volume_type"]) {
		for _, name := range []string{"iops", "throughput"} {
			if req.Config[name] == nil {
				p[name] = spec.Unknown{Source: req.Addr + "." + name}
			}
		}
	}
	return resp, nil
}

// checkVolumeArgs checks what the configuration gives of a volume.
func checkVolumeArgs(addr string, m map[string]any) error {
	vt, typeKnown := m["volume_type"].(string)
	if typeKnown && !slices.Contains(volumeTypes, vt) {
		return fmt.Errorf("%s: argument \"volume_type\" = %q: want one of %s", addr, vt, strings.Join(volumeTypes, ", "))
	}
	for _, name := range []string{"size", "iops", "throughput"} {
		v := m[name]
		if v == nil || spec.HasUnknown(v) {
			continue
		}
		if n, err := wholeNumber(v); err != nil || n < 1 {
			return fmt.Errorf("%s: argument %q = %s: want a whole number above 0", addr, name, spec.Render(v))
		}
	}
	if m["size"] == nil && m["snapshot_id"] == nil {
		return fmt.Errorf("%s: give size (in GiB), or snapshot_id to make the volume from a snapshot", addr)
	}
	if typeKnown && m["iops"] != nil && !slices.Contains(iopsVolumes, vt) {
		return fmt.Errorf("%s: argument \"iops\": %s volumes take no provisioned IOPS (only %s do); leave iops out", addr, vt, strings.Join(iopsVolumes, ", "))
	}
	if typeKnown && m["throughput"] != nil && vt != throughputVolume {
		return fmt.Errorf("%s: argument \"throughput\": only gp3 volumes take a throughput; leave it out for %s", addr, vt)
	}
	if typeKnown && (vt == "io1" || vt == "io2") && m["iops"] == nil {
		return fmt.Errorf("%s: %s volumes need iops", addr, vt)
	}
	if k, _ := m["kms_key_id"].(string); k != "" && m["encrypted"] == false {
		return fmt.Errorf("%s: argument \"kms_key_id\" is given but encrypted = false; set encrypted = true or leave kms_key_id out", addr)
	}
	return nil
}

// sameKMSKey compares kms_key_id by the key's ID: EC2 answers with the
// key's ARN where the configuration may give the ID. (An alias cannot be
// told apart from another key without asking KMS: a configured alias
// shows as a change.)
func sameKMSKey(name string, config, prior any) bool {
	c, ok1 := config.(string)
	p, ok2 := prior.(string)
	if name == "kms_key_id" && ok1 && ok2 {
		return c == p || strings.HasSuffix(p, ":key/"+c) || strings.HasSuffix(c, ":key/"+p)
	}
	return equal(config, prior)
}

func (e *ebsVolume) Apply(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	return applyFuncs{e.create, e.update, e.delete}.apply(ctx, req)
}

// int32Arg is a known numeric argument as the SDK takes it, nil when
// absent.
func int32Arg(m map[string]any, name string) *int32 {
	n, err := wholeNumber(m[name])
	if err != nil {
		return nil
	}
	return aws.Int32(int32(n))
}

func (e *ebsVolume) create(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "create", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	args, err := knownArguments(ebsVolumeSchema(), "create", req.Addr, req.Planned)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	tags, err := tagArgs(req.Addr, args)
	if err != nil {
		return providers.ApplyResponse{}, fmt.Errorf("create %w", err)
	}
	in := &ec2.CreateVolumeInput{
		AvailabilityZone:  aws.String(str(args, "availability_zone")),
		VolumeType:        types.VolumeType(str(args, "volume_type")),
		Size:              int32Arg(args, "size"),
		Iops:              int32Arg(args, "iops"),
		Throughput:        int32Arg(args, "throughput"),
		TagSpecifications: tagSpecs(types.ResourceTypeVolume, tags, req.Token),
	}
	if b, ok := args["encrypted"].(bool); ok {
		in.Encrypted = aws.Bool(b)
	}
	if k := str(args, "kms_key_id"); k != "" {
		in.KmsKeyId, in.Encrypted = aws.String(k), aws.Bool(true)
	}
	if s := str(args, "snapshot_id"); s != "" {
		in.SnapshotId = aws.String(s)
	}
	if req.Token != "" {
		// EC2 makes one volume per token; moto does not keep that
		// promise, so the token tag finds the volume too (Adopt).
		in.ClientToken = aws.String(req.Token)
	}
	out, err := e.c.ec2.CreateVolume(ctx, in)
	if err != nil {
		return providers.ApplyResponse{}, e.c.fail("create", req.Addr, callErr("ec2:CreateVolume", err))
	}
	id := aws.ToString(out.VolumeId)
	v, err := e.c.waitVolumeAvailable(ctx, id)
	if err != nil {
		st := spec.CloneMap(args)
		st["id"], st["attached_to"] = id, nil
		for _, k := range []string{"size", "iops", "throughput", "encrypted", "kms_key_id", "snapshot_id"} {
			if _, ok := st[k]; !ok {
				st[k] = nil
			}
		}
		return providers.ApplyResponse{State: st}, fmt.Errorf("%w (volume %s was made; the next plan replaces it)", e.c.fail("create", req.Addr, err), id)
	}
	st := updatedState(volumeState(*v, args), args)
	return providers.ApplyResponse{State: st}, nil
}

// waitVolumeAvailable waits until the volume is available (made, or
// detached) and returns it.
func (c *Client) waitVolumeAvailable(ctx context.Context, id string) (*types.Volume, error) {
	w := ec2.NewVolumeAvailableWaiter(c.ec2, func(o *ec2.VolumeAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Second, 15*time.Second
	})
	out, err := w.WaitForOutput(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{id}}, 30*time.Minute)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, callErr("ec2:DescribeVolumes", fmt.Errorf("waiting for volume %s to become available: %w", id, err))
	}
	if len(out.Volumes) == 0 {
		return nil, fmt.Errorf("volume %s was made but EC2 does not show it", id)
	}
	return &out.Volumes[0], nil
}

// volumeState is a volume's state as EC2 describes it; prior keeps the
// kms_key_id as the configuration wrote it while it names the same key.
func volumeState(v types.Volume, prior map[string]any) map[string]any {
	var attached any
	for _, a := range v.Attachments {
		if a.State != types.VolumeAttachmentStateDetached {
			attached = aws.ToString(a.InstanceId)
			break
		}
	}
	kms := nullable(aws.ToString(v.KmsKeyId))
	if p, ok := prior["kms_key_id"].(string); ok && kms != nil && sameKMSKey("kms_key_id", p, kms) {
		kms = p
	}
	return map[string]any{
		"id":                aws.ToString(v.VolumeId),
		"availability_zone": aws.ToString(v.AvailabilityZone),
		"size":              optNumber(v.Size),
		"volume_type":       string(v.VolumeType),
		"iops":              optNumber(v.Iops),
		"throughput":        optNumber(v.Throughput),
		"encrypted":         aws.ToBool(v.Encrypted),
		"kms_key_id":        kms,
		"snapshot_id":       nullable(aws.ToString(v.SnapshotId)),
		"tags":              userTags(v.Tags),
		"attached_to":       attached,
	}
}

// optNumber is *n as a number, or null.
func optNumber(n *int32) any {
	if n == nil {
		return nil
	}
	return spec.Number(int64(*n))
}

// update modifies size, type, IOPS and throughput (one ModifyVolume, when
// any of them changes) and tags.
func (e *ebsVolume) update(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "update", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	id, err := idOf("update", req.Addr, req.Prior)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	args, err := knownArguments(ebsVolumeSchema(), "update", req.Addr, req.Planned)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	want, err := tagArgs(req.Addr, args)
	if err != nil {
		return providers.ApplyResponse{}, fmt.Errorf("update %w", err)
	}
	in := &ec2.ModifyVolumeInput{VolumeId: aws.String(id)}
	changed := false
	// A new type takes the configured IOPS and throughput along, even
	// where they stay as they were.
	retyped := !equal(args["volume_type"], req.Prior["volume_type"])
	for _, name := range []string{"size", "volume_type", "iops", "throughput"} {
		v, set := args[name]
		if !set || v == nil || (equal(v, req.Prior[name]) && !(retyped && name != "size")) {
			continue
		}
		changed = true
		switch name {
		case "size":
			in.Size = int32Arg(args, name)
		case "volume_type":
			in.VolumeType = types.VolumeType(str(args, name))
		case "iops":
			in.Iops = int32Arg(args, name)
		case "throughput":
			in.Throughput = int32Arg(args, name)
		}
	}
	if changed {
		if _, err := e.c.ec2.ModifyVolume(ctx, in); err != nil {
			return providers.ApplyResponse{}, e.updateErr(req.Addr, id, callErr("ec2:ModifyVolume", err))
		}
		if err := e.c.waitVolumeModified(ctx, id); err != nil {
			return providers.ApplyResponse{}, e.updateErr(req.Addr, id, err)
		}
	}
	had, _ := stringMap(req.Addr, "tags", req.Prior["tags"])
	if err := e.c.updateTags(ctx, id, had, want); err != nil {
		return providers.ApplyResponse{}, e.updateErr(req.Addr, id, err)
	}
	v, err := e.c.findVolumeByID(ctx, id)
	if err == nil && v == nil {
		err = fmt.Errorf("volume %s is gone", id)
	}
	if err != nil {
		return providers.ApplyResponse{}, e.updateErr(req.Addr, id, err)
	}
	st := updatedState(volumeState(*v, req.Prior), args)
	return providers.ApplyResponse{State: st}, nil
}

func (e *ebsVolume) updateErr(addr, id string, err error) error {
	if isNotFound(err) || errorCode(err) == "InvalidVolume.NotFound" {
		return fmt.Errorf("update %s: volume %s no longer exists (deleted outside ferry?); run ferry plan again to create it anew", addr, id)
	}
	re := e.c.fail("update", addr, err).(*ResourceError)
	if errorCode(err) == "VolumeModificationRateExceeded" || errorCode(err) == "IncorrectModificationState" {
		re.Hint = fmt.Sprintf("EC2 modifies a volume at most once in six hours, one modification at a time: apply again once the last modification of %s is done", id)
	}
	return re
}

// waitVolumeModified waits until the volume's last modification has
// left the "modifying" state: from "optimizing" on, EC2 describes the
// volume with its new size and type, so that a read after the update
// sees what the update made.
func (c *Client) waitVolumeModified(ctx context.Context, id string) error {
	delay := time.Second
	for {
		out, err := c.ec2.DescribeVolumesModifications(ctx, &ec2.DescribeVolumesModificationsInput{VolumeIds: []string{id}})
		if err != nil {
			return callErr("ec2:DescribeVolumesModifications", err)
		}
		state := types.VolumeModificationStateCompleted
		var last time.Time
		for _, m := range out.VolumesModifications {
			if t := aws.ToTime(m.StartTime); !t.Before(last) {
				last, state = t, m.ModificationState
			}
		}
		switch state {
		case types.VolumeModificationStateFailed:
			return fmt.Errorf("EC2 failed to modify volume %s (aws ec2 describe-volumes-modifications --volume-ids %s says why)", id, id)
		case types.VolumeModificationStateModifying:
		default:
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
			delay = min(2*delay, 15*time.Second)
		}
	}
}

// delete deletes the volume: one that is detaching is waited for; one
// attached is refused, naming the instance.
func (e *ebsVolume) delete(ctx context.Context, req providers.ApplyRequest) error {
	if err := checkCtx(ctx, "delete", req.Addr); err != nil {
		return err
	}
	id, err := idOf("delete", req.Addr, req.Prior)
	if err != nil {
		return err
	}
	v, err := e.c.findVolumeByID(ctx, id)
	if err != nil {
		return e.c.fail("delete", req.Addr, err)
	}
	if v == nil {
		return nil // gone already: a crashed apply deletes again
	}
	for _, a := range v.Attachments {
		switch a.State {
		case types.VolumeAttachmentStateDetaching:
			if _, err := e.c.waitVolumeAvailable(ctx, id); err != nil {
				return e.c.fail("delete", req.Addr, err)
			}
		case types.VolumeAttachmentStateDetached:
		default:
			return e.attached(req.Addr, id, aws.ToString(a.InstanceId), nil)
		}
	}
	_, err = e.c.ec2.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(id)})
	switch {
	case err == nil || isNotFound(err):
		return nil
	case errorCode(err) == "VolumeInUse":
		// Attached since we looked.
		inst := "an instance"
		if v, ferr := e.c.findVolumeByID(context.WithoutCancel(ctx), id); ferr == nil && v != nil && len(v.Attachments) > 0 {
			inst = aws.ToString(v.Attachments[0].InstanceId)
		}
		return e.attached(req.Addr, id, inst, err)
	default:
		return e.c.fail("delete", req.Addr, callErr("ec2:DeleteVolume", err))
	}
}

func (e *ebsVolume) attached(addr, id, instance string, err error) error {
	if err == nil {
		err = fmt.Errorf("volume %s is attached to %s", id, instance)
	}
	re := e.c.fail("delete", addr, callErr("ec2:DeleteVolume", err)).(*ResourceError)
	re.Hint = fmt.Sprintf("volume %s is attached to %s: detach it first (remove it from that instance's configuration, or delete the instance)", id, instance)
	return re
}

func (e *ebsVolume) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	return readOne(ctx, e, req)
}

// ReadMany reads the volumes with one DescribeVolumes per page of IDs.
func (e *ebsVolume) ReadMany(ctx context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, error) {
	return readBatch(ctx, e.c, reqs, e.c.findVolumesByIDs, volumeState)
}

// Import adopts a volume by its ID.
func (e *ebsVolume) Import(ctx context.Context, req providers.ImportRequest) (providers.ImportResponse, error) {
	if !strings.HasPrefix(req.ID, "vol-") {
		return providers.ImportResponse{}, fmt.Errorf("import %s: %q is not a volume ID; give its vol-... ID", req.Addr, req.ID)
	}
	v, err := e.c.findVolumeByID(ctx, req.ID)
	if err != nil {
		return providers.ImportResponse{}, e.c.fail("import", req.Addr, err)
	}
	if v == nil {
		return providers.ImportResponse{}, fmt.Errorf("import %s: no volume %q in %s (region %s)", req.Addr, req.ID, e.c.name, e.c.region)
	}
	return providers.ImportResponse{State: volumeState(*v, nil)}, nil
}

// Adopt finds the volume a create with req.Token made, by its token tag.
func (e *ebsVolume) Adopt(ctx context.Context, req providers.AdoptRequest) (providers.ReadResponse, error) {
	if req.Token == "" {
		return providers.ReadResponse{}, nil
	}
	v, err := e.c.findVolumeByToken(ctx, req.Token)
	if err != nil {
		return providers.ReadResponse{}, e.c.fail("adopt", req.Addr, err)
	}
	if v == nil {
		return providers.ReadResponse{}, nil
	}
	return providers.ReadResponse{State: volumeState(*v, req.Planned)}, nil
}
