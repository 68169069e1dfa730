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
	docs    []builtinDoc // what docs/reference.md says of its builtins (reference.go)
}

// builtinModules lists the builtins of every Load, one file each.
func builtinModules() []builtinModule {
	return []builtinModule{
		{name: "deployment()", members: deploymentBuiltins, docs: []builtinDoc{deploymentDoc}},
		{name: "var()", members: varBuiltins, docs: []builtinDoc{varDoc}},
		{name: "output()", members: outputBuiltins, docs: []builtinDoc{outputDoc}},
		{name: "machine()", members: machineBuiltins, docs: []builtinDoc{machineDoc}},
		{name: "ssh()", members: sshBuiltins, docs: []builtinDoc{sshDoc}},
		{name: "install()", members: installBuiltins, docs: []builtinDoc{installDoc}},
		{name: "nix.module() and nix.inline()", members: nixBuiltins, docs: []builtinDoc{nixModuleDoc, nixInlineDoc}},
		{name: "defaults()", members: defaultsBuiltins, docs: []builtinDoc{defaultsDoc}},
		{name: "nixpkgs()", members: nixpkgsBuiltins, docs: []builtinDoc{nixpkgsDoc}},
		{name: "nixops.network()", members: nixopsBuiltins, docs: []builtinDoc{nixopsNetworkDoc}},
		{name: "colmena.hive()", members: colmenaBuiltins, docs: []builtinDoc{colmenaHiveDoc}},
		{name: "nix_cache()", members: transferBuiltins, docs: []builtinDoc{nixCacheDoc}},
		{name: "key()", members: keyBuiltins, docs: []builtinDoc{keyDoc}},
		{name: "cmd_check() and http_check()", members: checkBuiltins, docs: []builtinDoc{cmdCheckDoc, httpCheckDoc}},
		{name: "rollout()", members: rolloutBuiltins, docs: []builtinDoc{rolloutDoc}},
		{name: "lifecycle()", members: lifecycleBuiltins, docs: []builtinDoc{lifecycleDoc}},
		{name: "format()", members: formatBuiltins, docs: []builtinDoc{formatDoc}},
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
