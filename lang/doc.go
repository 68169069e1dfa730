// Package lang loads a ferry configuration (ferry.star and the files it
// loads) with go.starlark.net and turns it into a *spec.Config: neutral
// data with source positions and no Starlark left in it.
//
// It owns:
//   - file loading: load("//lib/x.star") rooted at the configuration
//     directory, load("./x.star") relative to the loading file, each file
//     executed once, cycles and escapes reported at the load statement;
//   - the dialect (top-level control flow, set, global reassignment) and
//     the execution step limit;
//   - the builtins: deployment(), var(), output(), format(), one module
//     per provider built from spec.Schema ("null.resource" becomes
//     null.resource(name, **attrs)) with NAME.provider(...) for a
//     provider that takes a configuration, lifecycle(), the machine
//     builtins machine(), ssh(), nix.module(), nix.inline(), defaults()
//     and nixpkgs(), nixops.network() and colmena.hive(), and key(), cmd_check(), http_check() and rollout();
//   - the values those builtins return (resources, references, machines,
//     targets, modules) and the conversion of Starlark values into spec
//     values;
//   - diagnostics with "file:line:col" positions relative to the
//     configuration directory.
//
// It must not import engine (other than the leaf engine/spec), providers,
// remote or any cloud SDK, and evaluation stays hermetic: no clock, no
// network, no environment except through var().
//
// Each Load builds its own builtins and keeps its per-run state (the
// configuration being built, the diagnostics) in a thread-local; there is
// no package-level mutable state. Builtins are listed in registry.go, one
// file each; the names every file sees are pinned by TestPredeclared.
// Each builtin's file also declares its builtinDoc (a summary, and the
// same parameter table its call binds arguments with, each parameter with
// its default and description): Builtins and ResourceMetaArgs export them
// (reference.go) for docs/reference.md, which `ferry docs` writes, and
// TestReference fails for a builtin or a parameter without one.
//
// Resource calls take the name (positionally or by keyword) and the
// attributes by keyword. An argument passed as None counts as not passed;
// an omitted optional argument gets its schema Default, or is absent from
// spec.Resource.Args when it has none. Positions recorded for resources,
// outputs and diagnostics about calls are the start of the call
// expression (`null.resource(` at ferry.star:3:5), not its parenthesis.
// r.<attr> is a reference (spec.Ref); a reference turned into a string
// (str, %, "".format) is detected when passed and refused with an
// explanation, since its value is only known after apply: format() is
// the way to build a string from one.
//
// Providers, meta-arguments and strings known at apply (provider.go,
// resource_meta.go, lifecycle.go, format.go):
//
//   - Options.Providers lists the providers; one with a Config schema
//     offers NAME.provider(alias = None, **config), keyword arguments only,
//     bound to the schema as resource arguments are (defaults, errors,
//     suggestions), and appends a spec.ProviderConfig to
//     Config.Providers. Its arguments must be known at load time (no
//     references). Two declarations with one NAME and alias are an error
//     at the second naming the first. It returns a provider value (str
//     "<provider aws.eu>", p.name, p.alias: None for the default). For a
//     provider without a Config, NAME.provider does not exist and using
//     it says the provider takes no configuration. Resources that use the
//     default configuration of a provider with required arguments need a
//     declaration of it, somewhere in the configuration.
//   - Every resource builtin takes, besides name and depends_on:
//     provider = p (a configuration of its own provider; Resource.Provider
//     is p's key, "" without it), lifecycle = lifecycle(...) or a dict with
//     its keys, timeouts = {"create": "20m", "update": "5m", "delete":
//     "10m"} (positive durations) and import_id = "..." (a non-empty
//     plain string: the plan needs it). None counts as not passed. No
//     schema may have attributes by these names.
//   - lifecycle(create_before_destroy = False, prevent_destroy = False,
//     ignore_changes = []) takes keywords only; ignore_changes names
//     arguments (not computed attributes) of the schema of each resource
//     it is passed to, checked there, with the nearest name suggested.
//     Repeated names count once.
//   - format(template, *values): "{}" placeholders filled in order, "{{"
//     and "}}" literal braces. Values are strings, ints and floats
//     (written as JSON writes them), references and format() values
//     (spliced in). With every value known the result is a string;
//     otherwise a format value (spec.Format: the known text in its
//     template, the references as its arguments), which resolves at
//     apply and is accepted wherever a reference is: resource arguments
//     of string (or duration, or any) kind, module args, outputs, and
//     ssh(host, user, host_key). It has no attributes and cannot be
//     computed with; made into a string (str, %), it is detected and
//     refused like a reference. A mistake in a format() call stops
//     evaluation, like a failing str.format.
//   - ssh(host, port, user, host_key) may be references or format
//     values: spec.Target.Refs records them by argument name and their
//     plain fields stay zero; t.host returns what was passed.
//
// Machines (machine.go, target_ssh.go, nix_module.go, defaults.go,
// nixpkgs.go):
//
//   - machine(name, target = None, modules = [], tags = [], depends_on = [],
//     build_on_target = False, build, build_host, store_path) appends a
//     spec.Machine at machine.NAME; build.go reads where its system is
//     built (defaults(build, build_host) gives the deployment's default).
//     Without a target, the machine is reached as its modules'
//     deployment.targetHost, targetPort and targetUser say, read by the
//     engine after evaluation (spec.Target.FromNix).
//     The value it returns has m.name, m.address, m.target (the target
//     value) and m.tags; it is not a plain value, so passing it where a
//     resource attribute or an output is expected is refused with a hint
//     (m.target.host). depends_on takes resources, machines and address
//     strings, for machines as for resources. Repeated tags count once.
//   - ssh(host, port = 22, user = "root", host_key = None, jump = None,
//     sudo = False) returns a target whose attributes are the values
//     passed, so git.target.host can go into another machine's module
//     args or an output: the NixOps "nodes" cross reference, known at
//     load time (or, for a host given as a reference, at apply).
//     host_key must be an authorized_keys line ("ssh-ed25519 AAAA...",
//     parsed with x/crypto/ssh) and is kept as "TYPE BASE64" without its
//     comment; a known_hosts line (host first) is refused with a hint.
//   - nix.module(path, args = {}) resolves path like load(): relative to
//     the .star file containing the call (not the file being executed, so
//     helpers in lib/ name modules beside themselves), or "//"-rooted. It
//     must exist inside the configuration directory (also through
//     symbolic links); a directory with default.nix is a module too, as
//     for Nix's import. args keys must be Nix identifiers; values may hold
//     references. nix.inline(text) is a module written in place.
//   - Digests: nix.module() records in Config.Inputs.Files the module file
//     and every other *.nix file in its directory (modules import their
//     siblings), not subdirectories and nothing outside the configuration
//     directory; siblings that cannot be read inside it are skipped.
//   - defaults(modules) may be called once, anywhere: its modules go in
//     front of every machine's own, including machines declared before
//     it, as NixOps' defaults does (applied after evaluation).
//   - nixpkgs(path) may be called once and sets Config.Nixpkgs to an
//     absolute path: relative to the calling file, "//"-rooted or
//     absolute; unlike modules it may lie outside the configuration
//     directory (a checkout beside it, a link into the Nix store). It must
//     be an existing directory. lang records no digest of it; the engine
//     does. nixpkgs(flake = DIR, input = "nixpkgs") instead sets
//     Config.NixpkgsFlake: the flake's input as its flake.lock pins it.
//   - machine(flake = "DIR#NAME") sets Machine.Flake: the machine is the
//     flake's nixosConfigurations.NAME extended with its modules. A flake
//     folder (relative to the calling file, or "//"-rooted) must be inside
//     the configuration directory and hold flake.nix and flake.lock; both,
//     and the *.nix files beside them, are digested as inputs.
//   - Every machine, target and module records where its builtin was
//     called. Machines sharing a module get their own copies of its args.
//   - "nix" is ferry's module: a resource provider may not use it as its
//     prefix.
//
// NixOps networks and Colmena hives (nixops.go, colmena.go):
//
//   - nixops.network(files, args = {}) and colmena.hive(file = "hive.nix")
//     read the files as NixOps and Colmena do and return one dict of
//     machine() arguments per node (name, target, modules, tags), for
//     `for m in ...: machine(**m)`. They evaluate Nix at load time through
//     Options.EvalNix (the only Nix lang runs); the files are digested as
//     nix.module files are. colmena.hive's meta.nixpkgs sets the
//     deployment's nixpkgs when nixpkgs() was not called.
//
// Safe rollouts (key.go, check.go, rollout.go):
//
//   - machine(..., keys = [], checks = [], magic_rollback = True,
//     confirm_timeout = "30s", rollback_on_failure = False).
//   - key(name, text = | file = | command = , dest_dir = "/run/keys",
//     user = "root", group = "root", permissions = "0600", upload_at =
//     "pre-activation"): exactly one source. text is read now (usually
//     from var()); file is resolved like nixpkgs() (it may lie outside the
//     configuration directory) but neither read nor digested here: the
//     engine reads it when it plans; command is argv, or a string run with
//     sh -c. Two keys of one machine may not land on the same path.
//   - cmd_check(cmd, ...) and http_check(url, status = 200, ...), with
//     timeout = "30s", retries = 3 (attempts after the first failure) and
//     interval = "2s".
//   - rollout(batch = 1 | "N%", max_failures = 0, pause = "0s", tags = [])
//     may be called once (Config.Rollout).
//
// Problems that do not stop evaluation (an unknown argument, a duplicate
// resource or machine, a missing module file, a second deployment()) are
// collected and evaluation goes on, so that one run reports all of them;
// a builtin with such a problem still returns a usable value, so that the
// mistake is not reported again at each use. Errors that make a value
// unavailable (an unset var(), a Starlark runtime error) stop evaluation.
package lang
