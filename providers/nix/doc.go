// Package nix evaluates and builds the NixOS systems of a deployment by
// running Nix's own command-line tools (nix-instantiate, nix-store); it never
// reimplements Nix.
//
// It owns:
//   - the evaluation expression (Expression): one Nix file evaluating every
//     machine with <nixpkgs>/nixos/lib/eval-config.nix, giving each machine's
//     modules the NixOps arguments name, nodes (every machine's evaluated
//     configuration) and resources, plus per-machine and per-module args;
//   - ferry's modules (ferryModules in the expression): every machine gets
//     its default host name and the deployment options of NixOps and
//     Colmena (deployment.nix: deployment.targetHost/Port/User, keys with
//     their <name>-key.service units, tags, ...); evaluation reports each
//     machine's values back (Evaluated.Deployment) and fails a machine
//     whose deployment.targetEnv is not "none". EvalJSON evaluates any
//     expression with the same modules in scope (how lang reads NixOps
//     networks and Colmena hives);
//   - machines from flakes (Machine.Flake: a flake's nixosConfigurations
//     extended through extendModules with the same modules and arguments)
//     and nixpkgs from a flake input (EvalOptions.NixpkgsFlake, pinned by
//     FlakeInputPin from flake.lock); flakes are enabled per call, each
//     read once with builtins.getFlake "path:DIR" in the same one pass;
//   - evaluation (Evaluate): one nix-instantiate process for all machines,
//     split into several passes only when a memory budget asks for it,
//     giving each machine's toplevel .drv and output path and its boot files
//     (BootFiles: the store paths of the kernel, initrd and kernel modules
//     the system boots, read without building and without failing on a
//     nixpkgs that lacks their options), so the engine can tell from
//     /run/booted-system whether activating needs a reboot;
//   - builds (Build): one nix-store --realise --keep-going for all systems,
//     with a result per derivation;
//   - what Nix reports as it runs (nixlog.go): evaluations and builds run
//     with --log-format internal-json, decoded into LogEvents for the
//     caller (EvalOptions.OnLog, BuildOptions.OnLog: machines being
//     evaluated, builds started and their log lines, counts of
//     derivations built and to build) and into the plain text Nix would
//     have printed, which errors are read from; a failed build keeps the
//     last lines of its log from the stream. This package never prints;
//     callers render the events;
//   - store queries: closures (Closure) and package-level diffs between two
//     systems computed from derivation closures, without building
//     (PackageDiff), and which paths a store lacks (MissingPaths: one
//     nix-store --check-validity);
//   - garbage collector roots for derivations (AddDrvRoots: indirect roots,
//     symlinks in a folder the caller chooses, all registered by one
//     nix-instantiate; Roots and RemoveRoots list and release them), so a
//     plan's .drv files survive a collection until apply builds them;
//   - the nixpkgs pin (NixpkgsPin): a digest of the nixpkgs evaluation
//     uses, its store path or a content digest of a checkout, for the
//     plan's input digest.
//
// It lives under providers because machines are what ferry provides, but it
// is not a resource provider: the engine calls it directly. It must not
// import engine (engine/spec is allowed), lang or remote, and it keeps no
// package-level mutable state: how to run Nix (binaries, --option settings,
// environment) travels in a Nix value.
//
// The zero Nix runs the tools from PATH with the user's nix.conf, so remote
// builders, substituters and max-jobs are the user's. Tests use the stub
// nixpkgs in testdata/nixpkgs (see package nixtest) and turn substituters off.
package nix
