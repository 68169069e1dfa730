package aws

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/nixferry/ferry/engine/spec"
)

// instanceArgs are the arguments of an aws.instance, read. At plan time
// an unknown value is left at its zero value (and the known* flags say
// which lists were given at all).
type instanceArgs struct {
	ami, release, arch   string
	instanceType         string
	keyName, subnet      string
	zone                 string
	elasticIP, profile   string
	userData             string
	securityGroups       []string
	securityGroupsSet    bool // given (known), even as []
	rootVolume           *rootVolume
	volumes              []volumeArg
	spot                 *spotArg
	hostKey              bool
	tags                 map[string]string
	tagsKnown, volsKnown bool
}

// rootVolume is the root_volume argument.
type rootVolume struct {
	size int32  // GiB; 0: the image's
	typ  string // "gp3", ...; "": EC2's default
}

// volumeArg is one entry of volumes.
type volumeArg struct{ id, device string }

// spotArg is the spot argument.
type spotArg struct{ maxPrice string }

// parseInstanceArgs reads the arguments in m (a configuration, planned
// attributes or a state), skipping unknown values. Errors name addr and
// the argument.
func parseInstanceArgs(addr string, m map[string]any) (instanceArgs, error) {
	var a instanceArgs
	a.ami, a.release, a.arch = str(m, "ami"), str(m, "nixos_release"), str(m, "arch")
	a.instanceType, a.keyName, a.subnet, a.zone = str(m, "instance_type"), str(m, "key_name"), str(m, "subnet_id"), str(m, "availability_zone")
	a.elasticIP, a.profile, a.userData = str(m, "elastic_ip"), str(m, "iam_instance_profile"), str(m, "user_data")
	a.hostKey, _ = m["nixos_host_key"].(bool)
	argErr := func(name, format string, args ...any) error {
		return fmt.Errorf("%s: argument %q %s", addr, name, fmt.Sprintf(format, args...))
	}
	if a.arch != "" && a.arch != "x86_64" && a.arch != "arm64" {
		return a, argErr("arch", "= %q: want \"x86_64\" or \"arm64\"", a.arch)
	}
	if len(a.userData) > maxUserData {
		return a, argErr("user_data", "has %d bytes; EC2 takes at most %d", len(a.userData), maxUserData)
	}
	if v := m["security_group_ids"]; v != nil && !spec.HasUnknown(v) {
		ids, err := stringList(v)
		if err != nil {
			return a, argErr("security_group_ids", "%v", err)
		}
		for _, id := range ids {
			if !strings.HasPrefix(id, "sg-") {
				return a, argErr("security_group_ids", "holds %q, which is not a security group ID (sg-...)", id)
			}
		}
		a.securityGroups, a.securityGroupsSet = ids, true
	}
	if id := a.elasticIP; id != "" && !strings.HasPrefix(id, "eipalloc-") {
		return a, argErr("elastic_ip", "= %q: want the allocation ID of an elastic IP (eipalloc-...)", id)
	}
	if v := m["root_volume"]; v != nil && !spec.HasUnknown(v) {
		d, err := dictOf(v, "size", "type")
		if err != nil {
			return a, argErr("root_volume", "%v", err)
		}
		rv := &rootVolume{}
		if n, ok := d["size"].(json.Number); ok {
			size, err := n.Int64()
			if err != nil || size < 1 || size > 65536 {
				return a, argErr("root_volume", "size %s: want a whole number of GiB from 1 to 65536", n)
			}
			rv.size = int32(size)
		} else if d["size"] != nil {
			return a, argErr("root_volume", "size must be a number of GiB")
		}
		if t, ok := d["type"].(string); ok {
			rv.typ = t
		} else if d["type"] != nil {
			return a, argErr("root_volume", "type must be a string such as \"gp3\"")
		}
		a.rootVolume = rv
	}
	if v := m["volumes"]; v != nil && !spec.HasUnknown(v) {
		list, ok := v.([]any)
		if !ok {
			return a, argErr("volumes", "must be a list of dicts {\"volume_id\": ..., \"device\": ...}")
		}
		seen := map[string]bool{}
		for i, e := range list {
			d, err := dictOf(e, "volume_id", "device")
			if err != nil {
				return a, argErr("volumes", "[%d]: %v", i, err)
			}
			id, _ := d["volume_id"].(string)
			dev, _ := d["device"].(string)
			if !strings.HasPrefix(id, "vol-") || !strings.HasPrefix(dev, "/dev/") {
				return a, argErr("volumes", "[%d]: want {\"volume_id\": \"vol-...\", \"device\": \"/dev/sdf\"}", i)
			}
			if seen[id] || seen[dev] {
				return a, argErr("volumes", "[%d]: volume %s or device %s is given twice", i, id, dev)
			}
			seen[id], seen[dev] = true, true
			a.volumes = append(a.volumes, volumeArg{id: id, device: dev})
		}
		a.volsKnown = true
	}
	if v := m["spot"]; v != nil && !spec.HasUnknown(v) {
		d, err := dictOf(v, "max_price")
		if err != nil {
			return a, argErr("spot", "%v", err)
		}
		s := &spotArg{}
		if p, ok := d["max_price"].(string); ok {
			s.maxPrice = p
		} else if d["max_price"] != nil {
			return a, argErr("spot", "max_price must be a string of US dollars an hour, such as \"0.05\"")
		}
		a.spot = s
	}
	if !spec.HasUnknown(m["tags"]) {
		tags, err := tagArgs(addr, m)
		if err != nil {
			return a, err
		}
		a.tags, a.tagsKnown = tags, true
	}
	return a, nil
}

// stringList reads a list of strings.
func stringList(v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("must be a list of strings, got %s", spec.Render(v))
	}
	out := make([]string, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("[%d] = %s must be a string", i, spec.Render(e))
		}
		out[i] = s
	}
	return out, nil
}

// dictOf reads a dict whose keys are among keys.
func dictOf(v any, keys ...string) (map[string]any, error) {
	d, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("must be a dict with %s, got %s", strings.Join(keys, ", "), spec.Render(v))
	}
	for _, k := range slices.Sorted(maps.Keys(d)) {
		if !slices.Contains(keys, k) {
			return nil, fmt.Errorf("has unknown key %q; it takes %s", k, strings.Join(keys, ", "))
		}
	}
	return d, nil
}

// volumesValue is the volumes attribute of vs.
func volumesValue(vs []volumeArg) []any {
	out := make([]any, 0, len(vs))
	for _, v := range vs {
		out = append(out, map[string]any{"volume_id": v.id, "device": v.device})
	}
	return out
}

// sameInstanceArg compares a configured ForceNew argument with the prior
// value: root_volume and spot compare only what the configuration gives
// and the prior knows (an import cannot read a spot request's price).
func sameInstanceArg(name string, config, prior any) bool {
	cm, cok := config.(map[string]any)
	pm, pok := prior.(map[string]any)
	if !cok || !pok || (name != "root_volume" && name != "spot") {
		return equal(config, prior)
	}
	for k, cv := range cm {
		pv, known := pm[k]
		if cv == nil || (name == "spot" && !known) {
			continue
		}
		if !equal(cv, pv) {
			return false
		}
	}
	return true
}
