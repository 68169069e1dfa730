package lang

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.starlark.net/starlark"

	"github.com/nixferry/ferry/engine/spec"
)

// NixOS machines on EC2: aws.ec2(...) is a machine's target, and
// aws.nixos_ami(...) the image it starts from.
//
//	machine("web", target = aws.ec2(instance_type = "t3.small", key_pair = kp,
//	        security_groups = [http, ssh], subnet = sub, connect = "private",
//	        volumes = [{"volume": data, "device": "/dev/xvdf", "mount": "/data"}]),
//	        modules = [nix.module("web.nix")])
//
// A cloud machine is an instance resource plus a machine, joined by an
// edge: machine(...) declares the aws.instance of the same name
// (aws.instance.web) from these arguments, with a host key that ferry
// generates and hands to the instance in its user data (nixos_host_key),
// and gives the machine a target of kind "aws.ec2" whose host and host
// key are references to the instance's address and key: known after
// apply, pinned before the first login. The image is only where the
// instance starts (NixOS then reconfigures itself in place): the instance
// ignores changes of ami (lifecycle ignore_changes), so a newer image
// plans nothing; --replace makes a new instance from it. Volumes are
// attached by the instance and mounted through generated fileSystems
// entries. Every such machine imports NixOS's EC2 image module
// (virtualisation/amazon-image.nix: the root file system, the host key
// from the user data, ...), as NixOps's EC2 backend did.

// Names the aws.ec2 target uses.
const (
	ec2InstanceType     = "aws.instance"
	defaultNixOSRelease = "25.11"
	defaultEC2Arch      = "x86_64"
	defaultFSType       = "ext4"
)

var ec2Params = []param{
	{name: "instance_type", required: true, doc: `The instance type ("t3.small").`},
	{name: "ami", def: "aws.nixos_ami()", doc: "The image the instance starts from: aws.nixos_ami(...) or an image ID. Later changes plan nothing (NixOS reconfigures itself in place); --replace makes a new instance from it."},
	{name: "key_pair", doc: "An aws.key_pair resource or a key pair's name."},
	{name: "security_groups", doc: "aws.security_group resources or group IDs; default: the VPC's default group."},
	{name: "subnet", doc: "An aws.subnet resource or a subnet ID; default: the default subnet."},
	{name: "availability_zone", doc: "As aws.instance's."},
	{name: "elastic_ip", doc: "An aws.elastic_ip resource or an allocation ID, associated with the instance."},
	{name: "root_volume", doc: `As aws.instance's: {"size": GiB, "type": "gp3"}.`},
	{name: "volumes", def: "[]", doc: `EBS volumes: [{"volume": vol, "device": "/dev/xvdf", "mount": "/data", "fs_type": "ext4"}], each an aws.ebs_volume or a volume ID; with mount, the machine gets a fileSystems entry for it.`},
	{name: "iam_profile", doc: "An aws.instance_profile resource or a profile's name."},
	{name: "spot", doc: "As aws.instance's."},
	{name: "tags", doc: "The instance's tags."},
	{name: "connect", def: `"public"`, doc: `Which address ferry logs in to: "public" (the public or elastic IP) or "private" (from inside the VPC or through a VPN).`},
	{name: "provider", doc: "An aws.provider(...) configuration."},
	{name: "lifecycle", doc: "As for every resource."},
	{name: "timeouts", doc: "As for every resource."},
}

var ec2Doc = builtinDoc{name: "aws.ec2", params: ec2Params, returns: "a target for machine(target = ...)",
	summary: "The target of a NixOS machine on EC2: every machine given it declares an aws.instance of its own name, with an SSH host key ferry generates and hands to the instance (known before the first boot, pinned before the first login)."}

// awsMachineMembers are the members the aws module gets besides its
// resource types, when the aws.instance type is known.
func (r *run) awsMachineMembers() starlark.StringDict {
	return starlark.StringDict{
		"ec2":       starlark.NewBuiltin("aws.ec2", ec2Target),
		"nixos_ami": starlark.NewBuiltin("aws.nixos_ami", nixosAMI),
	}
}

// amiValue is what aws.nixos_ami(release, arch) returns: the newest NixOS
// image of that release for the instance's region, which the plan looks
// up and pins.
type amiValue struct{ release, arch string }

func (a *amiValue) String() string {
	return fmt.Sprintf("aws.nixos_ami(release = %q, arch = %q)", a.release, a.arch)
}
func (a *amiValue) Type() string          { return "nixos_ami" }
func (a *amiValue) Freeze()               {}
func (a *amiValue) Truth() starlark.Bool  { return starlark.True }
func (a *amiValue) Hash() (uint32, error) { return starlark.String(a.String()).Hash() }

var (
	nixosAMIParams = []param{
		{name: "release", def: `"` + defaultNixOSRelease + `"`, doc: "The NixOS release, YY.MM."},
		{name: "arch", def: `"` + defaultEC2Arch + `"`, doc: `"x86_64" or "arm64".`},
	}
	nixosAMIDoc = builtinDoc{name: "aws.nixos_ami", params: nixosAMIParams, returns: "an image for aws.ec2(ami = ...)",
		summary: "The newest NixOS image of a release in the instance's region, which the plan looks up and pins."}
)

// nixosAMI implements aws.nixos_ami(release = "25.11", arch = "x86_64").
func nixosAMI(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := runOf(thread)
	p := &callProblems{fn: "aws.nixos_ami"}
	a := unpack(p, nixosAMIParams, args, kwargs)
	out := &amiValue{release: defaultNixOSRelease, arch: defaultEC2Arch}
	if v, ok := a["release"]; ok {
		if s, err := wantString(v); err != nil {
			p.addArg("release", err)
		} else if !validRelease(s) {
			p.add("release %q is not a NixOS release: write it as YY.MM, such as %q", s, defaultNixOSRelease)
		} else {
			out.release = s
		}
	}
	if v, ok := a["arch"]; ok {
		if s, err := wantString(v); err != nil {
			p.addArg("arch", err)
		} else if s != "x86_64" && s != "arm64" {
			p.add(`arch %q: want "x86_64" or "arm64" (Graviton)`, s)
		} else {
			out.arch = s
		}
	}
	if err := p.report(r, thread); err != nil {
		return nil, err
	}
	return out, nil
}

// validRelease reports whether s looks like a NixOS release: "25.11".
func validRelease(s string) bool {
	y, m, ok := strings.Cut(s, ".")
	if !ok || len(y) != 2 || len(m) != 2 {
		return false
	}
	_, e1 := strconv.Atoi(y)
	_, e2 := strconv.Atoi(m)
	return e1 == nil && e2 == nil
}

// ec2Mount is a volume's entry in the machine's fileSystems.
type ec2Mount struct{ device, mount, fsType string }

// instanceTemplate is what aws.ec2(...) recorded, for machine(...) to
// declare the machine's instance.
type instanceTemplate struct {
	kwargs    []starlark.Tuple // of aws.instance, name aside
	connect   string           // "public" or "private"
	elasticIP starlark.Value   // the aws.elastic_ip resource, nil without one
	mounts    []ec2Mount
	pos       spec.Pos
}

// ec2Target implements aws.ec2(...): a target template; every machine
// given it declares an instance of its own.
func ec2Target(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := runOf(thread)
	p := &callProblems{fn: "aws.ec2"}
	a := unpack(p, ec2Params, args, kwargs)
	tpl := &instanceTemplate{connect: "public", pos: r.callerPos(thread, 1)}
	kw := func(name string, v starlark.Value) {
		tpl.kwargs = append(tpl.kwargs, starlark.Tuple{starlark.String(name), v})
	}
	// Passed as they are: aws.instance checks them.
	for _, name := range []string{"instance_type", "availability_zone", "root_volume", "spot", "tags", "provider", "lifecycle", "timeouts"} {
		if v, ok := a[name]; ok && v != starlark.None {
			kw(name, v)
		}
	}
	switch v := a["ami"].(type) {
	case nil, starlark.NoneType:
		kw("nixos_release", starlark.String(defaultNixOSRelease))
		kw("arch", starlark.String(defaultEC2Arch))
	case *amiValue:
		kw("nixos_release", starlark.String(v.release))
		kw("arch", starlark.String(v.arch))
	default:
		kw("ami", v)
	}
	// Resources or their IDs.
	if v, ok := a["key_pair"]; ok && v != starlark.None {
		if x, msg := resourceAttr(v, "aws.key_pair", "key_name"); msg != "" {
			p.add("argument \"key_pair\": %s", msg)
		} else {
			kw("key_name", x)
			if kp, ok := v.(*resourceValue); ok && !r.importsPublicKey(kp.address()) {
				p.add("argument \"key_pair\": %s has no public_key, so EC2 would make the key pair and ferry could not log in with it: give it the public half of the key ferry logs in with (--ssh-key, ssh-agent or ~/.ssh/id_*), public_key = \"ssh-ed25519 AAAA...\"", kp.address())
			}
		}
	}
	if v, ok := a["subnet"]; ok && v != starlark.None {
		if x, msg := resourceAttr(v, "aws.subnet", "id"); msg != "" {
			p.add("argument \"subnet\": %s", msg)
		} else {
			kw("subnet_id", x)
		}
	}
	if v, ok := a["elastic_ip"]; ok && v != starlark.None {
		if x, msg := resourceAttr(v, "aws.elastic_ip", "id"); msg != "" {
			p.add("argument \"elastic_ip\": %s", msg)
		} else {
			kw("elastic_ip", x)
			if _, isRes := v.(*resourceValue); isRes {
				tpl.elasticIP = v
			}
		}
	}
	if v, ok := a["iam_profile"]; ok && v != starlark.None {
		if x, msg := resourceAttr(v, "aws.instance_profile", "name"); msg != "" {
			p.add("argument \"iam_profile\": %s", msg)
		} else {
			kw("iam_instance_profile", x)
		}
	}
	if v, ok := a["security_groups"]; ok && v != starlark.None {
		items, isSeq := sequence(v)
		if !isSeq {
			p.add("argument \"security_groups\": got %s, want a list of aws.security_group resources or group IDs", v.Type())
		}
		var ids []starlark.Value
		for i, x := range items {
			id, msg := resourceAttr(x, "aws.security_group", "id")
			if msg != "" {
				p.add("argument \"security_groups\"[%d]: %s", i, msg)
				continue
			}
			ids = append(ids, id)
		}
		kw("security_group_ids", starlark.NewList(ids))
	}
	if v, ok := a["volumes"]; ok && v != starlark.None {
		vols, mounts := ec2Volumes(p, v)
		kw("volumes", vols)
		tpl.mounts = mounts
	}
	if v, ok := a["connect"]; ok {
		if s, err := wantString(v); err != nil {
			p.addArg("connect", err)
		} else if s != "public" && s != "private" {
			p.add(`connect %q: want "public" (the public or elastic IP) or "private" (the private IP, from inside the VPC or through a VPN)`, s)
		} else {
			tpl.connect = s
		}
	}
	kw("nixos_host_key", starlark.True)
	t := &targetValue{t: spec.Target{Kind: "aws.ec2", Port: defaultSSHPort, User: defaultSSHUser, Pos: tpl.pos}, instance: tpl}
	if err := p.report(r, thread); err != nil {
		return nil, err
	}
	return t, nil
}

// importsPublicKey reports whether the declared aws.key_pair at addr
// imports a public key (root logs in with its private half, which ferry
// has), rather than having EC2 make the key pair.
func (r *run) importsPublicKey(addr string) bool {
	if res := r.cfg.ResourceByAddr(addr); res != nil {
		return res.Args["public_key"] != nil
	}
	return true // not declared (yet): nothing to say
}

// resourceAttr is attribute attr of v, a resource of type typ (a
// reference, known after apply), or v itself when it is a string (the
// object's ID or name, of an object ferry does not manage).
func resourceAttr(v starlark.Value, typ, attr string) (starlark.Value, string) {
	switch x := v.(type) {
	case *resourceValue:
		if x.Type() != typ {
			return nil, fmt.Sprintf("got the %s resource %s, want an %s", x.Type(), x.address(), typ)
		}
		ref, err := x.Attr(attr)
		if err != nil {
			return nil, fmt.Sprintf("%s: %v", typ, err)
		}
		return ref, ""
	case starlark.String, *reference, *formatValue:
		return v, ""
	}
	return nil, fmt.Sprintf("got %s, want a %s resource or its %s", v.Type(), typ, attr)
}

var ec2VolumeKeys = []string{"device", "fs_type", "mount", "volume"}

// ec2Volumes reads volumes = [{"volume": vol, "device": "/dev/xvdf",
// "mount": "/data", "fs_type": "ext4"}, ...]: the instance's volumes
// argument, and the file systems to mount.
func ec2Volumes(p *callProblems, v starlark.Value) (starlark.Value, []ec2Mount) {
	items, ok := sequence(v)
	if !ok {
		p.add(`argument "volumes": got %s, want a list of dicts such as {"volume": data, "device": "/dev/xvdf", "mount": "/data"}`, v.Type())
		return starlark.NewList(nil), nil
	}
	var vols []starlark.Value
	var mounts []ec2Mount
	devices := map[string]bool{}
	for i, x := range items {
		d, ok := x.(*starlark.Dict)
		if !ok {
			p.add(`argument "volumes"[%d]: got %s, want a dict such as {"volume": data, "device": "/dev/xvdf", "mount": "/data"}`, i, x.Type())
			continue
		}
		get := func(key string) (starlark.Value, bool) {
			v, found, _ := d.Get(starlark.String(key))
			return v, found && v != starlark.None
		}
		for _, k := range d.Keys() {
			ks, _ := k.(starlark.String)
			if !slices.Contains(ec2VolumeKeys, string(ks)) {
				p.add(`argument "volumes"[%d]: unknown key %s; a volume takes %s`, i, k, strings.Join(ec2VolumeKeys, ", "))
			}
		}
		vol, hasVol := get("volume")
		dev, hasDev := get("device")
		if !hasVol || !hasDev {
			p.add(`argument "volumes"[%d]: needs "volume" (an aws.ebs_volume or a volume ID) and "device" (such as "/dev/xvdf")`, i)
			continue
		}
		id, msg := resourceAttr(vol, "aws.ebs_volume", "id")
		if msg != "" {
			p.add(`argument "volumes"[%d]["volume"]: %s`, i, msg)
			continue
		}
		device, err := wantString(dev)
		if err != nil {
			p.add(`argument "volumes"[%d]["device"]: %s`, i, err.msg)
			continue
		}
		if !strings.HasPrefix(device, "/dev/") || strings.ContainsAny(device, "$\"\\\n ") {
			p.add(`argument "volumes"[%d]["device"]: %q is not a device path such as "/dev/xvdf"`, i, device)
			continue
		}
		if devices[device] {
			p.add(`argument "volumes"[%d]["device"]: %s is given twice`, i, device)
		}
		devices[device] = true
		entry := starlark.NewDict(2)
		_ = entry.SetKey(starlark.String("volume_id"), id)
		_ = entry.SetKey(starlark.String("device"), starlark.String(device))
		vols = append(vols, entry)
		m, hasMount := get("mount")
		if !hasMount {
			continue
		}
		mount, err := wantString(m)
		if err != nil || !strings.HasPrefix(mount, "/") || strings.ContainsAny(mount, "$\"\\\n") {
			p.add(`argument "volumes"[%d]["mount"]: want an absolute path such as "/data"`, i)
			continue
		}
		fs := defaultFSType
		if f, ok := get("fs_type"); ok {
			if fs, err = wantString(f); err != nil {
				p.add(`argument "volumes"[%d]["fs_type"]: %s`, i, err.msg)
				continue
			}
		}
		mounts = append(mounts, ec2Mount{device: device, mount: mount, fsType: fs})
	}
	return starlark.NewList(vols), mounts
}

// declare declares the instance of machine name from the template, and
// returns the machine's target (kind aws.ec2, host and host key known
// after apply) and the modules ferry adds to the machine: the EC2 image
// module, and the file systems of its volumes.
func (tpl *instanceTemplate) declare(thread *starlark.Thread, r *run, p *callProblems, name string) (*targetValue, []spec.Module) {
	t := &targetValue{t: spec.Target{Kind: "aws.ec2", Port: defaultSSHPort, User: defaultSSHUser, Pos: tpl.pos}}
	rt := r.resourceTypes[ec2InstanceType]
	if rt == nil {
		p.add("aws.ec2 needs the resource type %s, which this ferry lacks", ec2InstanceType)
		return t, nil
	}
	kwargs := append([]starlark.Tuple{{starlark.String(argName), starlark.String(name)}}, tpl.kwargs...)
	v, err := rt.call(thread, nil, nil, kwargs)
	if err != nil {
		p.add("%v", err)
		return t, nil
	}
	inst := v.(*resourceValue)
	t.t.Resource = inst.address()
	// The instance was declared last, unless its arguments had problems
	// (then it was reported and not declared).
	if n := len(r.cfg.Resources); n > 0 && r.cfg.Resources[n-1].Addr == inst.address() {
		res := r.cfg.Resources[n-1]
		res.Pos = tpl.pos
		if !slices.Contains(res.Lifecycle.IgnoreChanges, "ami") {
			res.Lifecycle.IgnoreChanges = append(res.Lifecycle.IgnoreChanges, "ami")
		}
	}
	hostFrom, hostAttr := starlark.Value(inst), "private_ip"
	if tpl.connect == "public" {
		hostAttr = "public_ip"
		if tpl.elasticIP != nil {
			hostFrom = tpl.elasticIP
		}
	}
	host, _ := hostFrom.(starlark.HasAttrs).Attr(hostAttr)
	key, _ := inst.Attr("host_key")
	for _, a := range []struct {
		name string
		v    starlark.Value
	}{{"host", host}, {"host_key", key}} {
		if ref, ok := a.v.(*reference); ok {
			t.deferArg(a.name, ref, ref.ref)
		}
	}
	mods := []spec.Module{{Inline: ec2ImageModule, Pos: tpl.pos}}
	if len(tpl.mounts) > 0 {
		mods = append(mods, spec.Module{Inline: fileSystemsModule(tpl.mounts), Pos: tpl.pos})
	}
	return t, mods
}

// ec2ImageModule makes a system boot as NixOS's EC2 images do.
const ec2ImageModule = `{ modulesPath, ... }: { imports = [ "${modulesPath}/virtualisation/amazon-image.nix" ]; }
`

// fileSystemsModule mounts the volumes: NixOS's EC2 images name NVMe
// volumes by the device they were attached as (/dev/xvdf), and an empty
// volume gets its file system at the first boot (autoFormat).
func fileSystemsModule(mounts []ec2Mount) string {
	sorted := append([]ec2Mount(nil), mounts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].mount < sorted[j].mount })
	var b strings.Builder
	b.WriteString("{\n")
	for _, m := range sorted {
		fmt.Fprintf(&b, "  fileSystems.%s = { device = %s; fsType = %s; autoFormat = true; };\n",
			strconv.Quote(m.mount), strconv.Quote(m.device), strconv.Quote(m.fsType))
	}
	b.WriteString("}\n")
	return b.String()
}
