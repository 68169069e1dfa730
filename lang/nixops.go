package lang

import (
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/nixferry/ferry/engine/spec"
)

// nixopsBuiltins provides nixops.network(files, args = {}): the machines of
// a NixOps network, read as NixOps reads it.
//
// The files are merged as NixOps merges them: each is a network (an
// attribute set, or a function of args returning one) whose attributes
// other than network, defaults, resources and require are nodes; a node
// named in several files gets all their definitions, and every node gets
// every file's defaults. The network is evaluated once, at load time,
// through Options.EvalNix, with nixpkgs() if it was called before, else
// <nixpkgs>: only as far as each node's deployment.* options (target,
// tags), so a node with deployment.targetEnv other than "none" is an
// error naming it. The result is a list with one dict of machine()
// arguments per node, sorted by name: name, target (ssh(...) from
// deployment.targetHost, targetPort and targetUser; the host defaults to
// the node's name, as in NixOps), modules (one inline module importing the
// node's definitions and the defaults from the network files) and tags
// (deployment.tags). `for m in nixops.network(...): machine(**m)` declares
// them; a dict may be changed first (m["keys"] = [...]). The files must be
// inside the configuration directory; they and their sibling .nix files
// are part of the plan's input digest, as for nix.module.
func nixopsBuiltins(*run) (starlark.StringDict, error) {
	return starlark.StringDict{"nixops": &starlarkstruct.Module{
		Name:    "nixops",
		Members: starlark.StringDict{"network": starlark.NewBuiltin("nixops.network", nixopsNetwork)},
	}}, nil
}

var (
	nixopsNetworkParams = []param{
		{name: "files", required: true, doc: `The network files, merged as NixOps merges them ("network.nix", "network-prod.nix"); inside the configuration directory.`},
		{name: "args", def: "{}", doc: "Arguments of networks that are functions (NixOps's --arg)."},
	}
	nixopsNetworkDoc = builtinDoc{name: "nixops.network", params: nixopsNetworkParams, returns: "a list of dicts of machine() arguments, one per node, sorted by name",
		summary: "The machines of a NixOps network, read as NixOps reads it: `for m in nixops.network(...): machine(**m)`. Each node's target comes from deployment.targetHost/Port/User, its tags from deployment.tags; a deployment.targetEnv other than \"none\" is an error."}
)

func nixopsNetwork(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := runOf(thread)
	pos := r.callerPos(thread, 1)
	p := &callProblems{fn: "nixops.network"}
	a := unpack(p, nixopsNetworkParams, args, kwargs)
	var files []string
	if v, ok := a["files"]; ok {
		names, err := wantStrings(v)
		if err != nil {
			p.addArg("files", err)
		} else if len(names) == 0 {
			p.add("files is empty: pass the network files, such as [\"network.nix\"]")
		}
		for _, name := range names {
			rel, msg := r.nixModulePath(pos.File, name)
			if msg != "" {
				p.add("%s", msg)
				continue
			}
			files = append(files, filepath.Join(r.opts.Dir, filepath.FromSlash(rel)))
		}
	}
	netArgs := map[string]any{}
	if v, ok := a["args"]; ok {
		m, msg := moduleArgs(v)
		if msg != "" {
			p.add("argument \"args\": %s", msg)
		}
		netArgs = m
	}
	if !p.empty() {
		return starlark.NewList(nil), p.report(r, thread)
	}
	if r.opts.EvalNix == nil {
		return starlark.NewList(nil), r.report(r.callerError(thread, "nixops.network: reading a NixOps network needs Nix, which this command does not run"))
	}
	argsJSON, err := json.Marshal(netArgs)
	if err != nil {
		return starlark.NewList(nil), r.report(r.callerError(thread, "nixops.network: argument \"args\": %v", err))
	}
	loader := networkLoader(files, string(argsJSON))
	out, err := r.opts.EvalNix(networkExpression(r.cfg.Nixpkgs, loader))
	if err != nil {
		return starlark.NewList(nil), r.report(r.callerError(thread, "nixops.network: %s", strings.TrimPrefix(err.Error(), "error: ")))
	}
	return r.nodeMachines(thread, pos, "nixops.network", out, func(name string) string { return nodeModule(loader, name) })
}

// nodeMachines turns what an evaluation printed for each node (its
// deployment report: target and tags) into the list of machine()
// argument dicts nixops.network and colmena.hive return, sorted by name;
// module gives a node's inline module.
func (r *run) nodeMachines(thread *starlark.Thread, pos spec.Pos, fn string, out []byte, module func(name string) string) (starlark.Value, error) {
	var nodes map[string]struct {
		TargetHost *string
		TargetPort *int
		TargetUser *string
		Tags       []string
	}
	if err := json.Unmarshal(out, &nodes); err != nil {
		return starlark.NewList(nil), r.report(r.callerError(thread, "%s: unexpected output of Nix: %v (a bug in ferry)", fn, err))
	}
	if len(nodes) == 0 {
		return starlark.NewList(nil), r.report(r.callerError(thread, "%s: no machine is defined (only network, meta, defaults or resources)", fn))
	}
	names := make([]string, 0, len(nodes))
	for n := range nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	list := make([]starlark.Value, 0, len(names))
	for _, name := range names {
		n := nodes[name]
		t := spec.Target{Kind: "ssh", Host: name, Port: defaultSSHPort, User: defaultSSHUser, Pos: pos}
		if n.TargetHost != nil {
			t.Host = *n.TargetHost
		}
		if n.TargetPort != nil {
			t.Port = *n.TargetPort
		}
		if n.TargetUser != nil {
			t.User = *n.TargetUser
		}
		mod := &moduleValue{inline: true, m: spec.Module{Pos: pos, Inline: module(name)}}
		tags := make([]starlark.Value, len(n.Tags))
		for i, tag := range n.Tags {
			tags[i] = starlark.String(tag)
		}
		d := starlark.NewDict(4)
		_ = d.SetKey(starlark.String("name"), starlark.String(name))
		_ = d.SetKey(starlark.String("target"), &targetValue{t: t})
		_ = d.SetKey(starlark.String("modules"), starlark.NewList([]starlark.Value{mod}))
		_ = d.SetKey(starlark.String("tags"), starlark.NewList(tags))
		list = append(list, d)
	}
	return starlark.NewList(list), nil
}

// networkLoader is Nix text: a let binding networks, the network files
// loaded as NixOps does (a function is called with the args it declares
// from argsJSON).
func networkLoader(files []string, argsJSON string) string {
	var b strings.Builder
	b.WriteString("let\n    networkArgs = builtins.fromJSON " + nixString(argsJSON) + ";\n")
	b.WriteString("    loadNetwork = f: let v = import f; in if builtins.isFunction v then v (builtins.intersectAttrs (builtins.functionArgs v) networkArgs) else v;\n")
	b.WriteString("    networks = map loadNetwork [")
	for _, f := range files {
		b.WriteString(" (/. + " + nixString(f) + ")")
	}
	b.WriteString(" ];\n  in ")
	return b.String()
}

// nodeModule is the inline module of node name: its definitions and the
// defaults of every network file.
func nodeModule(loader, name string) string {
	return "# The NixOps node " + name + " and the network's defaults.\n" + loader +
		"{ imports = builtins.concatMap (n: (if n ? defaults then [ n.defaults ] else [ ]) ++ (if n ? " + nixString(name) +
		" then [ n." + nixString(name) + " ] else [ ])) networks; }\n"
}

// networkExpression evaluates every node's deployment values.
func networkExpression(nixpkgs, loader string) string {
	np := "<nixpkgs>"
	if nixpkgs != "" {
		np = "(/. + " + nixString(nixpkgs) + ")"
	}
	return "  " + loader + `let
    evalConfig = import (` + np + ` + "/nixos/lib/eval-config.nix");
    reserved = [ "network" "defaults" "resources" "require" "_file" ];
    names = builtins.attrNames (builtins.removeAttrs (builtins.foldl' (a: n: a // n) { } networks) reserved);
    nodeModules = name: builtins.concatMap (n: (if n ? defaults then [ n.defaults ] else [ ]) ++ (if n ? ${name} then [ n.${name} ] else [ ])) networks;
    nodes = builtins.listToAttrs (map (name: { inherit name; value = evalConfig {
      modules = ferryModules name ++ nodeModules name;
      specialArgs = { inherit name nodes; resources = { }; };
    }; }) names);
  in
  builtins.mapAttrs (name: node: let d = deploymentReport name node.config; in { inherit (d) targetHost targetPort targetUser tags; }) nodes`
}

// nixString writes s as a Nix string literal.
func nixString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", `\${`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}
