package aws

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// InstanceType is an EC2 instance: a plain one, or the machine behind a
// NixOS target on EC2 (aws.ec2(...) declares one with nixos_host_key).
const InstanceType = "aws.instance"

func instanceSchema() spec.Schema {
	return spec.Schema{
		Type: InstanceType,
		Doc:  "An EC2 instance. With nixos_release instead of ami, the plan pins the newest NixOS image of that release; with nixos_host_key, ferry knows the machine's SSH host key before it boots.",
		Attrs: []spec.Attr{
			{Name: "ami", Kind: spec.KindString, Optional: true, Computed: true, ForceNew: true, Doc: "The image (ami-...). Left out, the plan of a create or replacement looks up the newest NixOS image of nixos_release and arch in the region and pins its ID; later plans keep it."},
			{Name: "nixos_release", Kind: spec.KindString, Optional: true, Doc: `The NixOS release whose image to boot when ami is left out ("25.11"); only used by the lookup, so changing it changes nothing on an existing instance (replace it to boot the new release's image).`},
			{Name: "arch", Kind: spec.KindString, Optional: true, Default: "x86_64", Doc: `The architecture of the looked-up image: "x86_64" or "arm64"; it must suit instance_type.`},
			{Name: "instance_type", Kind: spec.KindString, Required: true, Doc: `The instance type ("t3.micro"). A change stops a running instance, changes the type and starts it again (the plan shows the downtime); a spot instance is replaced instead.`},
			{Name: "key_name", Kind: spec.KindString, Optional: true, ForceNew: true, Doc: "The EC2 key pair whose public key the image authorises for root (aws.key_pair's key_name)."},
			{Name: "subnet_id", Kind: spec.KindString, Optional: true, Computed: true, ForceNew: true, Doc: "The subnet to launch in; default: the default subnet of the zone, in the default VPC."},
			{Name: "availability_zone", Kind: spec.KindString, Optional: true, Computed: true, ForceNew: true, Doc: "The availability zone; default: the subnet's, or one EC2 chooses."},
			{Name: "security_group_ids", Kind: spec.KindList, Optional: true, Computed: true, Doc: "Security group IDs; default: the VPC's default group. Change in place."},
			{Name: "elastic_ip", Kind: spec.KindString, Optional: true, Doc: "An elastic IP's allocation ID (eipalloc-...), associated with the instance, taken from another instance if need be; change in place. Only configured ones are read back."},
			{Name: "root_volume", Kind: spec.KindMap, Optional: true, Computed: true, ForceNew: true, Doc: `The root volume: {"size": GiB, "type": "gp3"}; default: the image's. Read at create and import; a resize outside ferry does not show.`},
			{Name: "volumes", Kind: spec.KindList, Optional: true, Default: []any{}, Doc: `EBS volumes to attach: [{"volume_id": "vol-...", "device": "/dev/sdf"}]. Change in place: new ones are attached, removed ones detached, each waited for; a volume attached elsewhere is an error.`},
			{Name: "iam_instance_profile", Kind: spec.KindString, Optional: true, Doc: "The name of an IAM instance profile; change in place."},
			{Name: "spot", Kind: spec.KindMap, Optional: true, ForceNew: true, Doc: `Run as a one-time spot instance: {} or {"max_price": "0.05"} (US dollars an hour; default: the on-demand price). EC2 cannot stop it, so a type change replaces it.`},
			{Name: "user_data", Kind: spec.KindString, Optional: true, ForceNew: true, Doc: "User data (at most 16 KiB). Never read back from EC2, but by an import."},
			{Name: "nixos_host_key", Kind: spec.KindBool, Optional: true, Default: false, ForceNew: true, Doc: "Generate an ed25519 SSH host key at create and hand it to the instance in its user data (SSH_HOST_ED25519_KEY lines, read by NixOS's EC2 images, after any user_data): host_key is then known before the first boot. The private key is in the user data only, never in the state."},
			{Name: "tags", Kind: spec.KindMap, Optional: true, Default: map[string]any{}, Doc: "Tags; change in place."},
			{Name: "id", Kind: spec.KindString, Computed: true, Doc: "The instance ID, i-..."},
			{Name: "state", Kind: spec.KindString, Computed: true, Doc: `The instance state: "running", "stopped", "pending", "stopping".`},
			{Name: "public_ip", Kind: spec.KindString, Computed: true, Doc: "The public IPv4 address (the elastic IP's when one is associated); null without one, and while stopped."},
			{Name: "private_ip", Kind: spec.KindString, Computed: true, Doc: "The private IPv4 address."},
			{Name: "public_dns", Kind: spec.KindString, Computed: true, Doc: "The public DNS name; null without one."},
			{Name: "private_dns", Kind: spec.KindString, Computed: true, Doc: "The private DNS name."},
			{Name: "host_key", Kind: spec.KindString, Computed: true, Doc: "The public SSH host key (ssh-ed25519 ...) with nixos_host_key; null otherwise."},
		},
	}
}

// instance is aws.instance.
type instance struct {
	c       *Client
	lookups planLookups
}

var (
	_ providers.BatchReader = (*instance)(nil)
	_ providers.Importer    = (*instance)(nil)
	_ providers.Adopter     = (*instance)(nil)
	_ providers.PowerSwitch = (*instance)(nil)
)

func (r *instance) client() *Client     { return r.c }
func (r *instance) Schema() spec.Schema { return instanceSchema() }

func (r *instance) Plan(ctx context.Context, req providers.PlanRequest) (providers.PlanResponse, error) {
	resp, err := planAttrs(instanceSchema(), req, sameInstanceArg)
	if err != nil {
		return resp, err
	}
	p := resp.Planned
	a, err := parseInstanceArgs(req.Addr, p)
	if err != nil {
		return providers.PlanResponse{}, err
	}
	prior, _ := parseInstanceArgs(req.Addr, req.Prior)
	typeKnown := !spec.HasUnknown(p["instance_type"])
	typeChanged := req.Prior != nil && (!typeKnown || a.instanceType != prior.instanceType)
	if req.Prior != nil && typeChanged && (a.spot != nil || spec.HasUnknown(p["spot"])) && len(resp.RequiresReplace) == 0 {
		// A one-time spot instance cannot be stopped to change its type.
		resp.RequiresReplace = []string{"instance_type"}
	}
	fresh := req.Prior == nil || len(resp.RequiresReplace) > 0

	if typeKnown && (req.Prior == nil || typeChanged) {
		if err := r.checkInstanceType(ctx, req.Addr, a.instanceType); err != nil {
			return providers.PlanResponse{}, err
		}
	}
	if err := r.planAMI(ctx, req, p, a, fresh); err != nil {
		return providers.PlanResponse{}, err
	}
	if fresh {
		if hk, ok := p["nixos_host_key"].(bool); ok && !hk {
			p["host_key"] = nil
		}
		return resp, nil
	}

	// An update in place.
	unknown := func(name string) { p[name] = spec.Unknown{Source: req.Addr + "." + name} }
	eipChanged := spec.HasUnknown(p["elastic_ip"]) || a.elasticIP != prior.elasticIP
	stopped := str(req.Prior, "state") == "stopped" || str(req.Prior, "state") == "stopping"
	if typeChanged {
		if state := str(req.Prior, "state"); state == "running" || state == "pending" {
			from, to := prior.instanceType, a.instanceType
			if !typeKnown {
				to = "(known after apply)"
			}
			resp.Downtime = fmt.Sprintf("stops the instance to change instance_type from %s to %s, then starts it", from, to)
		}
		// A stopped (or stopping) instance gets its new type and is
		// stopped afterwards, without a public address: only a running
		// one's state and address change.
		if stopped {
			p["state"] = "stopped"
		} else {
			unknown("state")
			if a.elasticIP == "" || eipChanged {
				unknown("public_ip") // a stop and start gives another one
				unknown("public_dns")
			}
		}
	}
	if eipChanged {
		unknown("public_ip")
		unknown("public_dns")
	}
	return resp, nil
}

// planAMI plans ami: as configured; else, for a create or replacement,
// the newest NixOS image of nixos_release and arch, known in the plan so
// that the apply boots what the plan showed; else the prior one.
func (r *instance) planAMI(ctx context.Context, req providers.PlanRequest, p map[string]any, a instanceArgs, fresh bool) error {
	if v := req.Config["ami"]; v != nil {
		return nil // configured: planned as given (or unknown)
	}
	if !fresh {
		p["ami"] = spec.Clone(req.Prior["ami"])
		return nil
	}
	p["ami"] = spec.Unknown{Source: req.Addr + ".ami"}
	release := req.Config["nixos_release"]
	switch {
	case release == nil:
		return fmt.Errorf("%s: give ami (an image ID) or nixos_release (\"25.11\": the newest NixOS image of that release)", req.Addr)
	case spec.HasUnknown(release) || spec.HasUnknown(p["arch"]):
		return nil // looked up once known
	}
	if id, ok := req.Reviewed["ami"].(string); ok && id != "" && equal(req.Reviewed["nixos_release"], p["nixos_release"]) && equal(req.Reviewed["arch"], p["arch"]) {
		// Apply boots the image the reviewed plan pinned, even when a
		// newer one of the release appeared since.
		p["ami"] = id
		return nil
	}
	id, err := r.nixosImage(ctx, req.Addr, a.release, a.arch)
	if err != nil {
		return err
	}
	p["ami"] = id
	return nil
}

func (r *instance) Apply(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	switch req.Action {
	case providers.Create:
		return r.create(ctx, req)
	case providers.Update:
		return r.update(ctx, req)
	case providers.Delete:
		return providers.ApplyResponse{}, r.delete(ctx, req)
	default:
		return providers.ApplyResponse{}, fmt.Errorf("apply %s: unsupported action %q", req.Addr, req.Action)
	}
}

// applyArgs reads the planned arguments of an apply.
func (r *instance) applyArgs(verb string, req providers.ApplyRequest) (map[string]any, instanceArgs, error) {
	args, err := knownArguments(instanceSchema(), verb, req.Addr, req.Planned)
	if err != nil {
		return nil, instanceArgs{}, err
	}
	a, err := parseInstanceArgs(req.Addr, args)
	if err != nil {
		return nil, a, fmt.Errorf("%s %w", verb, err)
	}
	return args, a, nil
}

// clientToken is RunInstances' ClientToken for a create's token: at most
// 64 characters, the same for a retry. Real EC2 then returns the instance
// the first call made instead of making another; moto ignores it, so
// adoption goes by the ferry:token tag (Adopt).
func clientToken(token string) *string {
	if token == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(token))
	return aws.String(hex.EncodeToString(sum[:]))
}

// create runs the instance, waits until it runs, associates the elastic
// IP and attaches the volumes. A failure after RunInstances returns the
// instance as it is (the engine records it tainted and replaces it).
func (r *instance) create(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "create", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	args, a, err := r.applyArgs("create", req)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	if a.ami == "" {
		return providers.ApplyResponse{}, fmt.Errorf("create %s: the plan has no ami; run ferry plan again", req.Addr)
	}
	in, err := r.runInput(ctx, a, req.Token)
	if err != nil {
		return providers.ApplyResponse{}, r.c.fail("create", req.Addr, err)
	}
	if a.hostKey {
		k, err := newHostKey()
		if err != nil {
			return providers.ApplyResponse{}, fmt.Errorf("create %s: %w", req.Addr, err)
		}
		tags := maps.Clone(a.tags)
		tags[hostKeyTag] = k.public
		in.TagSpecifications = tagSpecs(types.ResourceTypeInstance, tags, req.Token)
		in.UserData = aws.String(base64.StdEncoding.EncodeToString([]byte(withHostKey(a.userData, k))))
	}
	out, err := r.c.ec2.RunInstances(ctx, in)
	if err != nil {
		return providers.ApplyResponse{}, r.c.fail("create", req.Addr, callErr("ec2:RunInstances", err))
	}
	if len(out.Instances) == 0 {
		return providers.ApplyResponse{}, fmt.Errorf("create %s: ec2:RunInstances returned no instance", req.Addr)
	}
	id := aws.ToString(out.Instances[0].InstanceId)
	inst, err := r.c.waitInstance(ctx, id, types.InstanceStateNameRunning)
	if err == nil && a.elasticIP != "" {
		err = r.c.associateAddress(ctx, id, a.elasticIP)
	}
	if err == nil {
		err = r.c.attachVolumes(ctx, id, a.volumes)
	}
	if err == nil && (a.elasticIP != "" || len(a.volumes) > 0) {
		inst, err = r.c.findInstanceByID(ctx, id)
		if err == nil && inst == nil {
			err = fmt.Errorf("instance %s is gone", id)
		}
	}
	var st map[string]any
	if err == nil {
		st = r.c.instanceState(*inst, args, nullable(a.elasticIP))
		if a.rootVolume == nil {
			err = r.c.readRootVolume(ctx, *inst, st)
		}
	}
	if err != nil {
		return providers.ApplyResponse{State: r.partial(ctx, id, args)}, fmt.Errorf("%w (instance %s was made; the next plan replaces it)", r.c.fail("create", req.Addr, err), id)
	}
	return providers.ApplyResponse{State: st}, nil
}

// runInput is the RunInstances call of a create.
func (r *instance) runInput(ctx context.Context, a instanceArgs, token string) (*ec2.RunInstancesInput, error) {
	in := &ec2.RunInstancesInput{
		ImageId:           aws.String(a.ami),
		InstanceType:      types.InstanceType(a.instanceType),
		MinCount:          aws.Int32(1),
		MaxCount:          aws.Int32(1),
		ClientToken:       clientToken(token),
		TagSpecifications: tagSpecs(types.ResourceTypeInstance, a.tags, token),
	}
	if a.keyName != "" {
		in.KeyName = aws.String(a.keyName)
	}
	if a.subnet != "" {
		in.SubnetId = aws.String(a.subnet)
	}
	if a.zone != "" {
		in.Placement = &types.Placement{AvailabilityZone: aws.String(a.zone)}
	}
	if a.securityGroupsSet {
		in.SecurityGroupIds = a.securityGroups
	}
	if a.profile != "" {
		in.IamInstanceProfile = &types.IamInstanceProfileSpecification{Name: aws.String(a.profile)}
	}
	if a.spot != nil {
		opts := &types.SpotMarketOptions{SpotInstanceType: types.SpotInstanceTypeOneTime}
		if a.spot.maxPrice != "" {
			opts.MaxPrice = aws.String(a.spot.maxPrice)
		}
		in.InstanceMarketOptions = &types.InstanceMarketOptionsRequest{MarketType: types.MarketTypeSpot, SpotOptions: opts}
	}
	if a.userData != "" {
		in.UserData = aws.String(base64.StdEncoding.EncodeToString([]byte(a.userData)))
	}
	if rv := a.rootVolume; rv != nil {
		dev, err := r.c.rootDevice(ctx, a.ami)
		if err != nil {
			return nil, err
		}
		ebs := &types.EbsBlockDevice{DeleteOnTermination: aws.Bool(true)}
		if rv.size > 0 {
			ebs.VolumeSize = aws.Int32(rv.size)
		}
		if rv.typ != "" {
			ebs.VolumeType = types.VolumeType(rv.typ)
		}
		in.BlockDeviceMappings = []types.BlockDeviceMapping{{DeviceName: aws.String(dev), Ebs: ebs}}
	}
	return in, nil
}

// partial is the state of an instance whose create failed halfway: as
// EC2 shows it, or, when even that fails, what the create asked for.
func (r *instance) partial(ctx context.Context, id string, args map[string]any) map[string]any {
	ctx = context.WithoutCancel(ctx)
	var st map[string]any
	if inst, err := r.c.findInstanceByID(ctx, id); err == nil && inst != nil {
		st = r.c.instanceState(*inst, args, nil)
	} else {
		st = spec.CloneMap(args)
		st["id"] = id
		for _, a := range instanceSchema().Attrs {
			if v, ok := st[a.Name]; !ok || spec.HasUnknown(v) {
				st[a.Name] = nil
			}
		}
	}
	if spec.HasUnknown(st["root_volume"]) {
		st["root_volume"] = nil
	}
	st["elastic_ip"] = nil // not associated, or not known to be
	return st
}

// instanceState is an instance's state as EC2 describes it. prior (a
// state, planned arguments, or nil for an import) gives what EC2 does
// not return: user_data, nixos_release, arch, root_volume, spot and
// nixos_host_key; and the order of security_group_ids and volumes. eip
// is the elastic_ip attribute, read separately.
func (c *Client) instanceState(inst types.Instance, prior map[string]any, eip any) map[string]any {
	kept := func(name string, derived any) any {
		if v, ok := prior[name]; ok && !spec.HasUnknown(v) && prior != nil {
			return spec.Clone(v)
		}
		return derived
	}
	hostKey := tagValue(inst.Tags, hostKeyTag)
	var spot any
	if inst.InstanceLifecycle == types.InstanceLifecycleTypeSpot {
		spot = map[string]any{}
	}
	arch := "x86_64"
	if inst.Architecture == types.ArchitectureValuesArm64 {
		arch = "arm64"
	}
	var sgs []string
	for _, g := range inst.SecurityGroups {
		sgs = append(sgs, aws.ToString(g.GroupId))
	}
	var state, zone, profile any
	if inst.State != nil {
		state = string(inst.State.Name)
	}
	if inst.Placement != nil {
		zone = nullable(aws.ToString(inst.Placement.AvailabilityZone))
	}
	if inst.IamInstanceProfile != nil {
		// arn:aws:iam::ACCOUNT:instance-profile/PATH/NAME
		arn := aws.ToString(inst.IamInstanceProfile.Arn)
		profile = nullable(arn[strings.LastIndex(arn, "/")+1:])
	}
	return map[string]any{
		"id":                   aws.ToString(inst.InstanceId),
		"ami":                  aws.ToString(inst.ImageId),
		"nixos_release":        kept("nixos_release", nil),
		"arch":                 kept("arch", arch),
		"instance_type":        string(inst.InstanceType),
		"key_name":             nullable(aws.ToString(inst.KeyName)),
		"subnet_id":            nullable(aws.ToString(inst.SubnetId)),
		"availability_zone":    zone,
		"security_group_ids":   stringsValue(inPriorOrder(prior["security_group_ids"], sgs)),
		"elastic_ip":           eip,
		"root_volume":          kept("root_volume", nil),
		"volumes":              volumesValue(attachedVolumes(inst, prior["volumes"])),
		"iam_instance_profile": profile,
		"spot":                 kept("spot", spot),
		"user_data":            kept("user_data", nil),
		"nixos_host_key":       kept("nixos_host_key", hostKey != ""),
		"tags":                 userTags(inst.Tags),
		"state":                state,
		"public_ip":            nullable(aws.ToString(inst.PublicIpAddress)),
		"private_ip":           nullable(aws.ToString(inst.PrivateIpAddress)),
		"public_dns":           nullable(aws.ToString(inst.PublicDnsName)),
		"private_dns":          nullable(aws.ToString(inst.PrivateDnsName)),
		"host_key":             nullable(hostKey),
	}
}

// inPriorOrder orders have as prior lists them (a list of strings, or
// anything else for none), those prior lacks after them, sorted.
func inPriorOrder(prior any, have []string) []string {
	order, _ := stringList(prior)
	out := make([]string, 0, len(have))
	for _, s := range order {
		if slices.Contains(have, s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	var rest []string
	for _, s := range have {
		if !slices.Contains(out, s) {
			rest = append(rest, s)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}

func stringsValue(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// attachedVolumes lists the EBS volumes attached (or attaching) to inst
// but its root volume, in the order of prior (a volumes attribute), new
// ones after them by device.
func attachedVolumes(inst types.Instance, prior any) []volumeArg {
	var have []volumeArg
	for _, m := range inst.BlockDeviceMappings {
		dev := aws.ToString(m.DeviceName)
		if m.Ebs == nil || dev == aws.ToString(inst.RootDeviceName) {
			continue
		}
		if s := m.Ebs.Status; s == types.AttachmentStatusDetaching || s == types.AttachmentStatusDetached {
			continue
		}
		have = append(have, volumeArg{id: aws.ToString(m.Ebs.VolumeId), device: dev})
	}
	var order []string
	if list, ok := prior.([]any); ok {
		for _, e := range list {
			if d, ok := e.(map[string]any); ok {
				order = append(order, str(d, "volume_id"))
			}
		}
	}
	slices.SortStableFunc(have, func(a, b volumeArg) int {
		ia, ib := slices.Index(order, a.id), slices.Index(order, b.id)
		switch {
		case ia >= 0 && ib >= 0:
			return ia - ib
		case ia >= 0:
			return -1
		case ib >= 0:
			return 1
		}
		return strings.Compare(a.device, b.device)
	})
	return have
}

// readRootVolume sets st's root_volume from the instance's root volume
// (DescribeVolumes): for a create that left it out, an import, an
// adoption.
func (c *Client) readRootVolume(ctx context.Context, inst types.Instance, st map[string]any) error {
	var volID string
	for _, m := range inst.BlockDeviceMappings {
		if aws.ToString(m.DeviceName) == aws.ToString(inst.RootDeviceName) && m.Ebs != nil {
			volID = aws.ToString(m.Ebs.VolumeId)
		}
	}
	st["root_volume"] = nil
	if volID == "" {
		return nil // an instance store root
	}
	v, err := c.findVolumeByID(ctx, volID)
	if err != nil {
		return err
	}
	if v != nil {
		st["root_volume"] = map[string]any{"size": spec.Number(int64(aws.ToInt32(v.Size))), "type": string(v.VolumeType)}
	}
	return nil
}

func (r *instance) delete(ctx context.Context, req providers.ApplyRequest) error {
	if err := checkCtx(ctx, "delete", req.Addr); err != nil {
		return err
	}
	id, err := idOf("delete", req.Addr, req.Prior)
	if err != nil {
		return err
	}
	// Its elastic IP is released from it and its volumes detached by the
	// termination itself.
	_, err = r.c.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	if isNotFound(err) {
		return nil // gone already: a crashed apply deletes again
	}
	if err != nil {
		return r.c.fail("delete", req.Addr, callErr("ec2:TerminateInstances", err))
	}
	if _, err := r.c.waitInstance(ctx, id, types.InstanceStateNameTerminated); err != nil {
		return r.c.fail("delete", req.Addr, fmt.Errorf("wait for instance %s to terminate: %w", id, err))
	}
	return nil
}

func (r *instance) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	resps, err := r.ReadMany(ctx, []providers.ReadRequest{req})
	if err != nil {
		return providers.ReadResponse{}, err
	}
	return resps[0], nil
}

// ReadMany reads the instances with one DescribeInstances per page of
// IDs, and, when some of them have an elastic_ip configured, the elastic
// IPs of those with one DescribeAddresses per page. A terminated
// instance is gone.
func (r *instance) ReadMany(ctx context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	ids := make([]string, len(reqs))
	var withEIP, withProfile []string
	for i, req := range reqs {
		id, err := idOf("read", req.Addr, req.Prior)
		if err != nil {
			return nil, err
		}
		ids[i] = id
		if req.Prior["elastic_ip"] != nil {
			withEIP = append(withEIP, id)
		}
		if req.Prior["iam_instance_profile"] != nil {
			withProfile = append(withProfile, id)
		}
	}
	found, err := r.c.findInstancesByIDs(ctx, ids)
	if err != nil {
		return nil, r.c.fail("read", batchName(reqs), err)
	}
	var addrs map[string]types.Address
	if len(withEIP) > 0 {
		if addrs, err = r.c.findAddressesByInstance(ctx, withEIP); err != nil {
			return nil, r.c.fail("read", batchName(reqs), err)
		}
	}
	// Profiles are read from their associations (profilesOf), for the
	// instances that had one; one more call per page of them.
	var profiles map[string]string
	if len(withProfile) > 0 {
		if profiles, err = r.c.profilesOf(ctx, withProfile); err != nil {
			return nil, r.c.fail("read", batchName(reqs), err)
		}
	}
	out := make([]providers.ReadResponse, len(reqs))
	for i, req := range reqs {
		inst, ok := found[ids[i]]
		if !ok || instanceGone(&inst) {
			continue
		}
		var eip any
		if req.Prior["elastic_ip"] != nil {
			if a, ok := addrs[ids[i]]; ok {
				eip = nullable(aws.ToString(a.AllocationId))
			}
		}
		out[i].State = r.c.instanceState(inst, req.Prior, eip)
		if req.Prior["iam_instance_profile"] != nil {
			out[i].State["iam_instance_profile"] = nullable(profiles[ids[i]])
		}
	}
	return out, nil
}

// Import adopts an instance by its ID, reading once what a refresh does
// not: its root volume, elastic IP and user data (without the host key
// lines of nixos_host_key).
func (r *instance) Import(ctx context.Context, req providers.ImportRequest) (providers.ImportResponse, error) {
	if !strings.HasPrefix(req.ID, "i-") {
		return providers.ImportResponse{}, fmt.Errorf("import %s: %q is not an instance ID; give its i-... ID", req.Addr, req.ID)
	}
	inst, err := r.c.findInstanceByID(ctx, req.ID)
	if err != nil {
		return providers.ImportResponse{}, r.c.fail("import", req.Addr, err)
	}
	if inst == nil || instanceGone(inst) {
		return providers.ImportResponse{}, fmt.Errorf("import %s: no instance %q in %s (region %s); list them with aws ec2 describe-instances --region %s", req.Addr, req.ID, r.c.name, r.c.region, r.c.region)
	}
	st, err := r.found(ctx, *inst, nil)
	if err != nil {
		return providers.ImportResponse{}, r.c.fail("import", req.Addr, err)
	}
	out, err := r.c.ec2.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: inst.InstanceId, Attribute: types.InstanceAttributeNameUserData})
	if err != nil {
		return providers.ImportResponse{}, r.c.fail("import", req.Addr, callErr("ec2:DescribeInstanceAttribute", err))
	}
	if out.UserData != nil {
		raw, err := base64.StdEncoding.DecodeString(aws.ToString(out.UserData.Value))
		if err != nil {
			return providers.ImportResponse{}, fmt.Errorf("import %s: the user data of %s is not base64: %w", req.Addr, req.ID, err)
		}
		st["user_data"] = nullable(withoutHostKey(string(raw)))
	}
	return providers.ImportResponse{State: st}, nil
}

// found is the state of an instance found by import or adoption: as a
// read, with its elastic IP and its root volume.
func (r *instance) found(ctx context.Context, inst types.Instance, prior map[string]any) (map[string]any, error) {
	id := aws.ToString(inst.InstanceId)
	addrs, err := r.c.findAddressesByInstance(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	var eip any
	if a, ok := addrs[id]; ok {
		eip = nullable(aws.ToString(a.AllocationId))
	}
	st := r.c.instanceState(inst, prior, eip)
	if v, ok := prior["root_volume"]; !ok || spec.HasUnknown(v) {
		err = r.c.readRootVolume(ctx, inst, st)
	}
	return st, err
}

// Adopt finds the instance a create with req.Token made, by its token
// tag (moto ignores ClientToken; on EC2 a retried RunInstances with the
// same ClientToken would return it too).
func (r *instance) Adopt(ctx context.Context, req providers.AdoptRequest) (providers.ReadResponse, error) {
	if req.Token == "" {
		return providers.ReadResponse{}, nil
	}
	inst, err := r.c.findInstanceByToken(ctx, req.Token)
	if err != nil {
		return providers.ReadResponse{}, r.c.fail("adopt", req.Addr, err)
	}
	if inst == nil {
		return providers.ReadResponse{}, nil
	}
	st, err := r.found(ctx, *inst, req.Planned)
	if err != nil {
		return providers.ReadResponse{}, r.c.fail("adopt", req.Addr, err)
	}
	if req.Planned["elastic_ip"] == nil {
		st["elastic_ip"] = nil // not configured: not read back
	}
	return providers.ReadResponse{State: st}, nil
}
