package machines

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/providers/nix"
)

// Keys from deployment.keys (NixOps, Colmena): a machine's modules may
// declare keys; those the configuration does not declare under the same
// name are uploaded like key(...) ones. Their contents never enter the
// plan: the plan records their hashes, and apply evaluates the machines
// that have any once more to read them (the plan pins every input of that
// evaluation, and the hashes must match).

// withNixKeys returns m with the keys of d that m does not declare (by
// name) added, marked FromNix; m itself when there are none.
func withNixKeys(m *spec.Machine, d *nix.Deployment) *spec.Machine {
	if d == nil || len(d.Keys) == 0 {
		return m
	}
	declared := map[string]bool{}
	for _, k := range m.Keys {
		declared[k.Name] = true
	}
	names := make([]string, 0, len(d.Keys))
	for name := range d.Keys {
		if !declared[name] {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return m
	}
	sort.Strings(names)
	cp := *m
	cp.Keys = append([]*spec.Key(nil), m.Keys...)
	for _, name := range names {
		k := d.Keys[name]
		cp.Keys = append(cp.Keys, &spec.Key{Name: name, Text: k.Text, File: k.KeyFile, Command: k.KeyCommand,
			DestDir: k.DestDir, User: k.User, Group: k.Group, Permissions: k.Permissions, UploadAt: k.UploadAt,
			FromNix: true, Pos: m.Pos})
	}
	return &cp
}

// NixKeys evaluates, for apply, the machines of p that upload keys from
// deployment.keys, and returns those keys by machine address. Module
// arguments are resolved from st, as after the resources were applied.
func (pl *Pipeline) NixKeys(ctx context.Context, p *plan.Plan, cfg *spec.Config, st *state.State) (map[string][]*spec.Key, error) {
	var names []string
	for _, pm := range p.Machines {
		if pm.Action != plan.Deploy && pm.Action != plan.UploadKeys {
			continue
		}
		for _, k := range pm.Keys {
			if strings.HasPrefix(k.Source, spec.NixKeySource) {
				names = append(names, pm.Name)
				break
			}
		}
	}
	if len(names) == 0 || cfg == nil {
		return nil, nil
	}
	return pl.DeploymentKeys(ctx, cfg, p.Nixpkgs, p.NixpkgsFlake, st, names)
}

// DeploymentKeys evaluates the machines of cfg named in names in one Nix
// pass, with the nixpkgs given (nixpkgs, or the flake input flake) and
// module arguments resolved from st, and returns by machine address the
// keys of their deployment.keys that the configuration does not declare
// (spec.Key.FromNix), contents included: for apply (NixKeys) and for
// `ferry keys upload`.
func (pl *Pipeline) DeploymentKeys(ctx context.Context, cfg *spec.Config, nixpkgs string, flake *spec.FlakeInput, st *state.State, names []string) (map[string][]*spec.Key, error) {
	lookup := stateLookup(st)
	machines, _, err := evalMachines(cfg, func(ref spec.Ref) (any, bool, error) {
		v, ok := lookup(ref)
		return v, ok, nil
	})
	if err != nil {
		return nil, err
	}
	evaluated, err := pl.Nix.Evaluate(ctx, nix.EvalOptions{Nixpkgs: nixpkgs, NixpkgsFlake: nixFlakeInput(flake), Machines: machines, Names: names})
	if err != nil {
		return nil, fmt.Errorf("evaluate the keys of deployment.keys: %w", err)
	}
	out := map[string][]*spec.Key{}
	for _, name := range names {
		m := cfg.MachineByName(name)
		if m == nil {
			continue // resolveSecrets says it is gone
		}
		for _, k := range withNixKeys(m, evaluated[name].Deployment).Keys {
			if k.FromNix {
				out[m.Addr] = append(out[m.Addr], k)
			}
		}
	}
	return out, nil
}

// evalMachines are cfg's machines as evaluation sees them, their module
// args resolved by lookup; unknown lists, by machine name, the references
// lookup could not resolve yet.
func evalMachines(cfg *spec.Config, lookup func(spec.Ref) (any, bool, error)) ([]nix.Machine, map[string][]spec.Ref, error) {
	machines := make([]nix.Machine, 0, len(cfg.Machines))
	unknown := map[string][]spec.Ref{}
	for _, m := range cfg.Machines {
		nm := nix.Machine{Name: m.Name}
		if m.Flake != nil {
			nm.Flake = &nix.Flake{Dir: m.Flake.Dir, Attr: m.Flake.Attr}
		}
		for _, mod := range m.Modules {
			var refErr error
			args, _ := spec.Resolve(mod.Args, func(ref spec.Ref) (any, bool) {
				v, ok, err := lookup(ref)
				if err != nil && refErr == nil {
					refErr = err
				}
				if !ok && err == nil {
					unknown[m.Name] = append(unknown[m.Name], ref)
				}
				return v, ok
			}).(map[string]any)
			if refErr != nil {
				return nil, nil, spec.Errorf(mod.Pos, fmt.Sprintf("machine %s: %v", m.Name, refErr))
			}
			nm.Modules = append(nm.Modules, nix.Module{Path: mod.Path, Inline: mod.Inline, Args: args})
		}
		machines = append(machines, nm)
	}
	return machines, unknown, nil
}
