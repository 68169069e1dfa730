package lang

import (
	"encoding/json"
	"path/filepath"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// colmenaBuiltins provides colmena.hive(file = "hive.nix"): the machines of
// a Colmena hive, read as Colmena reads it.
//
// The hive is an attribute set (or a function taking no required
// arguments): meta, defaults, and one attribute per node. meta.nixpkgs (a
// path or a package set such as `import <nixpkgs> {}`) becomes the
// deployment's nixpkgs when nixpkgs() was not called (with nixpkgs()
// called, both must be the same tree); meta.nodeNixpkgs may name the same
// tree for a node, and another one is an error (ferry evaluates every
// machine with one nixpkgs); meta.specialArgs and
// meta.nodeSpecialArgs.<node> are given to the node's modules (and to the
// defaults), as Colmena's specialArgs. deployment.* (targetHost, which
// defaults to the node's name, targetPort, targetUser, tags, keys) are
// ferry's deployment options. The result is the list nixops.network
// returns: one dict of machine() arguments per node, sorted by name.
func colmenaBuiltins(*run) (starlark.StringDict, error) {
	return starlark.StringDict{"colmena": &starlarkstruct.Module{
		Name:    "colmena",
		Members: starlark.StringDict{"hive": starlark.NewBuiltin("colmena.hive", colmenaHive)},
	}}, nil
}

var (
	colmenaHiveParams = []param{
		{name: "file", def: `"hive.nix"`, doc: "The hive file, inside the configuration directory."},
		{name: "flake", doc: `Instead of file, a flake folder ("./"): its output colmena (the hive a flake gives colmena.lib.makeHive), or colmenaHive when that is a plain hive.`},
	}
	colmenaHiveDoc = builtinDoc{name: "colmena.hive", params: colmenaHiveParams, returns: "a list of dicts of machine() arguments, one per node, sorted by name",
		summary: "The machines of a Colmena hive, read as Colmena reads it: meta.nixpkgs, meta.nodeNixpkgs, meta.specialArgs, deployment.* and tags."}
)

func colmenaHive(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := runOf(thread)
	pos := r.callerPos(thread, 1)
	p := &callProblems{fn: "colmena.hive"}
	a := unpack(p, colmenaHiveParams, args, kwargs)
	name := "hive.nix"
	if v, ok := a["file"]; ok {
		s, err := wantString(v)
		if err != nil {
			p.addArg("file", err)
		}
		name = s
	}
	flakeDir := ""
	if v, ok := a["flake"]; ok {
		if _, both := a["file"]; both {
			p.add(`give file or flake, not both`)
		} else if s, err := wantString(v); err != nil {
			p.addArg("flake", err)
		} else if dir, msg := r.flakeDir(pos.File, s); msg != "" {
			p.add("%s", msg)
		} else {
			flakeDir = dir
		}
	}
	file := ""
	if p.empty() && flakeDir == "" {
		rel, msg := r.nixModulePath(pos.File, name)
		if msg != "" {
			p.add("%s", msg)
		}
		file = filepath.Join(r.opts.Dir, filepath.FromSlash(rel))
	}
	if !p.empty() {
		return starlark.NewList(nil), p.report(r, thread)
	}
	if r.opts.EvalNix == nil {
		return starlark.NewList(nil), r.report(r.callerError(thread, "colmena.hive: reading a Colmena hive needs Nix, which this command does not run"))
	}
	loader := hiveLoader(file)
	if flakeDir != "" {
		loader = flakeHiveLoader(flakeDir)
	}
	raw, err := r.opts.EvalNix(hiveExpression(r.cfg.Nixpkgs, loader))
	if err != nil {
		return starlark.NewList(nil), r.report(r.callerError(thread, "colmena.hive: %s", strings.TrimPrefix(err.Error(), "error: ")))
	}
	var out struct {
		Nixpkgs string
		Nodes   json.RawMessage
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return starlark.NewList(nil), r.report(r.callerError(thread, "colmena.hive: unexpected output of Nix: %v (a bug in ferry)", err))
	}
	if out.Nixpkgs != "" && r.cfg.Nixpkgs == "" {
		r.cfg.Nixpkgs = out.Nixpkgs // meta.nixpkgs
	}
	return r.nodeMachines(thread, pos, "colmena.hive", out.Nodes, func(name string) string { return hiveNodeModule(loader, name) })
}

// hiveLoader is Nix text: a let binding hive (the file, called if it is a
// function), meta, and wrap, which gives a module the hive's specialArgs
// for one node (as withArgs does for nix.module).
func hiveLoader(file string) string {
	return hiveLoaderOf(`import (/. + ` + nixString(file) + `)`)
}

// hiveLoaderOf is hiveLoader of the hive that the Nix expression
// hiveFile gives.
func hiveLoaderOf(hiveFile string) string {
	return `let
    hiveFile = ` + hiveFile + `;
    hive = if builtins.isFunction hiveFile then hiveFile { } else hiveFile;
    meta = hive.meta or { };
    specialArgsOf = name: (meta.specialArgs or { }) // ((meta.nodeSpecialArgs or { }).${name} or { });
    wrap = extra: m:
      if builtins.isFunction m then {
        __functor = _: args: m (args // extra);
        __functionArgs = builtins.removeAttrs (builtins.functionArgs m) (builtins.attrNames extra);
      } else m;
    hiveModules = name: map (wrap (specialArgsOf name)) ((if hive ? defaults then [ hive.defaults ] else [ ]) ++ [ hive.${name} ]);
  in `
}

// flakeHiveLoader is hiveLoader for the hive of the flake in dir: its
// output colmena (Colmena's flake form, the raw hive that colmenaHive =
// colmena.lib.makeHive self.colmena is made from), else colmenaHive when
// it is a raw hive itself (makeHive's result carries __schema and nodes
// already evaluated, which ferry cannot extend).
func flakeHiveLoader(dir string) string {
	return hiveLoaderOf(`let flake = builtins.getFlake ` + nixString("path:"+dir) + `; in
      if flake.outputs ? colmena then flake.outputs.colmena
      else if flake.outputs ? colmenaHive && !(flake.outputs.colmenaHive ? __schema) then flake.outputs.colmenaHive
      else throw ` + nixString("the flake in "+dir+" has no output colmena (the hive colmenaHive is made from): add colmena = import ./hive.nix; to its outputs"))
}

// hiveNodeModule is the inline module of node name: the hive's defaults
// and the node, with the hive's specialArgs.
func hiveNodeModule(loader, name string) string {
	return "# The Colmena node " + name + " and the hive's defaults.\n" + loader +
		"{ imports = hiveModules " + nixString(name) + "; }\n"
}

// hiveExpression evaluates every node's deployment values and the path of
// meta.nixpkgs.
func hiveExpression(nixpkgs, loader string) string {
	configured := "null"
	if nixpkgs != "" {
		configured = "(/. + " + nixString(nixpkgs) + ")"
	}
	return "  " + loader + `let
    pathOf = p: if builtins.isAttrs p then p.path else p;
    configured = ` + configured + `;
    hivePkgs = if meta ? nixpkgs then pathOf meta.nixpkgs else null;
    chosen = if configured != null then configured else if hivePkgs != null then hivePkgs else <nixpkgs>;
    same = a: b: toString a == toString b;
    nixpkgsChecked =
      if configured != null && hivePkgs != null && !(same configured hivePkgs) then
        throw "meta.nixpkgs (${toString hivePkgs}) is not the nixpkgs of ferry.star's nixpkgs() (${toString configured}): keep one of them"
      else chosen;
    names = builtins.attrNames (builtins.removeAttrs hive [ "meta" "defaults" "network" ]);
    nodeNixpkgsOf = name:
      let p = (meta.nodeNixpkgs or { }).${name} or null; in
      if p == null || same (pathOf p) nixpkgsChecked then null
      else throw "meta.nodeNixpkgs.${name} (${toString (pathOf p)}) differs from the deployment's nixpkgs (${toString nixpkgsChecked}): ferry evaluates every machine with one nixpkgs";
    evalConfig = import (nixpkgsChecked + "/nixos/lib/eval-config.nix");
    nodes = builtins.listToAttrs (map (name: { inherit name; value = evalConfig {
      modules = ferryModules name ++ hiveModules name;
      specialArgs = { inherit name nodes; resources = { }; };
    }; }) names);
  in
  {
    nixpkgs = if hivePkgs == null then null else toString nixpkgsChecked;
    nodes = builtins.mapAttrs (name: node:
      let d = deploymentReport name node.config; in
      builtins.seq (nodeNixpkgsOf name) { inherit (d) targetHost targetPort targetUser tags; }) nodes;
  }`
}
