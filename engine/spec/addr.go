package spec

import "strings"

// ResourceAddr is the address of a resource: its type and name joined by a
// dot, e.g. "null.resource.a" (type "null.resource", name "a").
func ResourceAddr(typ, name string) string { return typ + "." + name }

// MachineAddr is the address of a machine, e.g. "machine.web".
func MachineAddr(name string) string { return "machine." + name }

// SplitAttr splits "null.resource.a.id" into the resource address and the
// attribute path, given the resource type has two segments (ferry's types
// are always "provider.kind"). It returns ok=false for anything shorter.
func SplitAttr(ref string) (addr, attr string, ok bool) {
	parts := strings.SplitN(ref, ".", 4)
	if len(parts) < 4 {
		return "", "", false
	}
	return strings.Join(parts[:3], "."), parts[3], true
}
