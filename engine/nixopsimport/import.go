package nixopsimport

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
)

// machineTypes are the NixOps resource types that are machines.
var machineTypes = map[string]bool{
	"none": true, "ec2": true, "gce": true, "azure": true, "virtualbox": true, "libvirtd": true,
	"container": true, "hetzner": true, "hetznercloud": true, "digitalOcean": true, "packet": true, "vultr": true,
}

// Report says what Import did, per address.
type Report struct {
	// Machines are the imported machines, sorted by address.
	Machines []ImportedMachine
	// Recorded are the addresses carried as recorded, not managed, sorted.
	Recorded []string
	// Skipped are resources not imported, with why ("obsolete").
	Skipped []string
}

// ImportedMachine is one machine Import wrote.
type ImportedMachine struct {
	Addr, Target, Path string
	HostKey            bool // a host key was pinned
}

// Import returns a copy of st with d's machines and recorded resources
// added. An address already in st is refused (nothing is changed): ferry
// never overwrites what it knows with an import.
func Import(st *state.State, d *Deployment) (*state.State, *Report, error) {
	out := st.Clone()
	if out.Machines == nil {
		out.Machines = map[string]*state.Machine{}
	}
	rep := &Report{}
	var clash []string
	for _, name := range slices.Sorted(maps.Keys(d.Resources)) {
		r := d.Resources[name]
		if r.Attrs["obsolete"] == "1" || strings.EqualFold(r.Attrs["obsolete"], "true") {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s (%s): obsolete in NixOps", name, r.Type))
			continue
		}
		if r.Type != "none" {
			addr := "nixops." + r.Type + "." + name
			if out.Recorded[addr] != nil {
				clash = append(clash, addr)
				continue
			}
			if out.Recorded == nil {
				out.Recorded = map[string]*state.Recorded{}
			}
			out.Recorded[addr] = &state.Recorded{Type: "nixops " + r.Type, Why: unmanaged(r.Type), Attrs: withoutSecrets(r.Attrs)}
			rep.Recorded = append(rep.Recorded, addr)
			continue
		}
		addr := spec.MachineAddr(name)
		if out.Machines[addr] != nil {
			clash = append(clash, addr)
			continue
		}
		m, err := machine(d, r)
		if err != nil {
			return nil, nil, err
		}
		out.Machines[addr] = m
		rep.Machines = append(rep.Machines, ImportedMachine{Addr: addr, Target: m.Target, Path: m.Path, HostKey: m.HostKey != ""})
	}
	if len(clash) > 0 {
		sort.Strings(clash)
		return nil, nil, fmt.Errorf("already in the state of deployment %q: %s; nothing was imported (remove them with ferry state rm, or import into another deployment with -d)",
			out.Deployment, strings.Join(clash, ", "))
	}
	return out, rep, nil
}

// machine is the ferry record of a NixOps "none" machine.
func machine(d *Deployment, r *Resource) (*state.Machine, error) {
	field := func(k string) string { return d.UUID + ".resources." + r.Name + "." + k }
	host := r.Attrs["targetHost"]
	if host == "" {
		host = r.Name // NixOps's default: the machine's name
	}
	port := 22
	if p := r.Attrs["targetPort"]; p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("field %s: %q is not a port number", field("targetPort"), p)
		}
		port = n
	}
	user := r.Attrs["targetUser"]
	if user == "" {
		user = "root"
	}
	m := &state.Machine{
		Target:  fmt.Sprintf("%s@%s:%d", user, host, port),
		HostKey: hostKey(r),
		Path:    r.Attrs["toplevel"],
	}
	if g := r.Attrs["generation"]; g != "" {
		n, err := strconv.Atoi(g)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("field %s: %q is not a generation number", field("generation"), g)
		}
		m.Generation = n
	}
	if m.Path != "" && !strings.HasPrefix(m.Path, "/nix/store/") {
		return nil, fmt.Errorf("field %s: %q is not a store path", field("toplevel"), m.Path)
	}
	return m, nil
}

// hostKey is the host's public key as NixOps recorded it (publicHostKey,
// or a backend's "<type>.publicHostKey"), in authorized_keys form.
func hostKey(r *Resource) string {
	if k := r.Attrs["publicHostKey"]; k != "" {
		return strings.TrimSpace(k)
	}
	for k, v := range r.Attrs {
		if strings.HasSuffix(k, ".publicHostKey") && v != "" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func unmanaged(typ string) string {
	if machineTypes[typ] {
		return fmt.Sprintf("a NixOps %s machine; ferry deploys it once declared with a ferry target (see its targetHost and toplevel here)", typ)
	}
	return fmt.Sprintf("a NixOps %s resource; no ferry provider manages it yet", typ)
}

// withoutSecrets drops the attributes that hold private keys or secrets
// (state keeps no secret in clear).
func withoutSecrets(attrs map[string]string) map[string]string {
	out := make(map[string]string, len(attrs))
	for k, v := range attrs {
		l := strings.ToLower(k)
		if strings.Contains(l, "private") || strings.Contains(l, "secret") || strings.Contains(l, "password") || strings.HasSuffix(l, "keys") {
			continue
		}
		out[k] = v
	}
	return out
}
