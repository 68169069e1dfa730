package lang

import (
	"fmt"
	"sort"

	"go.starlark.net/starlark"
)

// builtinModule contributes predeclared names to every file of a Load.
// Its members are built per Load, so they may close over the run's
// options (the resource schemas) without any shared state.
type builtinModule struct {
	name    string // what it provides, for messages about clashes
	members func(r *run) (starlark.StringDict, error)
}

// builtinModules lists the builtins of every Load, one file each.
func builtinModules() []builtinModule {
	return []builtinModule{
		{name: "deployment()", members: deploymentBuiltins},
		{name: "var()", members: varBuiltins},
		{name: "output()", members: outputBuiltins},
		{name: "machine()", members: machineBuiltins},
		{name: "ssh()", members: sshBuiltins},
		{name: "nix.module() and nix.inline()", members: nixBuiltins},
		{name: "defaults()", members: defaultsBuiltins},
		{name: "nixpkgs()", members: nixpkgsBuiltins},
		{name: "nixops.network()", members: nixopsBuiltins},
		{name: "colmena.hive()", members: colmenaBuiltins},
		{name: "key()", members: keyBuiltins},
		{name: "cmd_check() and http_check()", members: checkBuiltins},
		{name: "rollout()", members: rolloutBuiltins},
		{name: "lifecycle()", members: lifecycleBuiltins},
		{name: "format()", members: formatBuiltins},
		{name: "providers and resource types (Options.Providers, Options.Schemas)", members: resourceModules},
	}
}

// buildPredeclared merges the builtin modules (and extra ones, for tests)
// into the names every file sees, refusing any name defined twice.
func (r *run) buildPredeclared(extra []builtinModule) (starlark.StringDict, error) {
	out := starlark.StringDict{}
	owner := map[string]string{}
	for _, m := range append(builtinModules(), extra...) {
		members, err := m.members(r)
		if err != nil {
			return nil, err
		}
		names := members.Keys() // sorted, for a stable message
		sort.Strings(names)
		for _, name := range names {
			if prev, ok := owner[name]; ok {
				return nil, fmt.Errorf("lang: %s and %s both define %q", prev, m.name, name)
			}
			if starlark.Universe.Has(name) {
				return nil, fmt.Errorf("lang: %s redefines the Starlark builtin %q", m.name, name)
			}
			owner[name] = m.name
			out[name] = members[name]
		}
	}
	return out, nil
}
