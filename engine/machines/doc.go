// Package machines is ferry's machine pipeline: everything particular to
// NixOS machines, from evaluating their systems at plan time to recording
// each deploy at apply. The engine core (package engine) plans resources
// and walks resources and machines alike in one graph; it calls the
// pipeline to plan the machines and to run each machine node and rollout
// gate, and lends it what it needs through small interfaces. This package
// never imports the core.
//
// What it owns, by file:
//
//   - plan.go, hostread.go: one Nix evaluation pass for all machines
//     (chunked under a memory budget), the hosts read while Nix evaluates
//     (remote.Probe: one connection and one round trip each), deferral of
//     machines whose systems depend on values known only after apply,
//     package diffs, the deploy/noop/upload-keys decision, reboot planning.
//   - apply.go: one apply's machines (Run): the one local build of every
//     system, then per machine reach, connect, refuse a host deployed by
//     someone else since the plan, copy what the host lacks, upload keys,
//     activate (guarded by the magic-rollback watchdog, or through a
//     reboot), confirm over a new SSH connection, health checks, rollback
//     on failure, and the record committed through the core.
//   - nixlog.go: what Nix reports while it evaluates and builds, passed
//     on through Sink.Nix attributed to a machine: the machine being
//     evaluated, or the one machine whose system needs a derivation (one
//     several need is the run's, shown once).
//   - keys.go (secrets as keyed hashes only), checks.go, rollout.go
//     (batches and gates), gcroots.go (GC roots of plans), drift.go (a
//     machine's standing: plan and `ferry check` judge it the same way),
//     target.go (target arguments from resources, resolved through the
//     drivers of engine/target), selection.go (--on, --exclude), day2.go,
//     build.go (where each system is built, or where a given one is).
//   - transfer.go: transfer strategies (machine(transfer = ...)): push;
//     substitute (the host fetches what its own substituters hold,
//     remote.Substitute, the rest is pushed); a fleet cache, checked at
//     plan (the secret key signs what the public key verifies; the bucket
//     answers), uploaded to once per apply (binarycache.Uploader shared by
//     the machines of a cache; its secret key read from the configuration
//     again by ResolveTransfers, never in the plan, state or events) while
//     the host is asked what it lacks, then substituted by the host with
//     tight fetch limits; what it could not fetch is pushed, and the
//     fallback is a warning event and ApplyResult.FellBack.
//
// Deploy (apply.go): a machine node connects to its host while the
// systems build, asks what the host lacks outside the copy limit, streams
// under it, uploads keys (keys.go: the plan and the state hold only
// hashes; the secrets come from the configuration at apply and must match
// them), arms the magic-rollback watchdog for switch and test when the
// host runs a system, activates under the activation limit, confirms over
// a new SSH connection, runs the health checks (checks.go), and records
// the generation. A failure with rollback_on_failure switches back and is
// recorded too. --reboot activates with boot, reboots through the target
// driver and waits for a new boot ID instead of the watchdog.
//
// Verified status: before a machine's activation starts, apply records it
// as unverified; when the deploy is activated, checked and confirmed, as
// verified. A killed run, a failed check without rollback or an
// interrupted rollback leaves it unverified, and the next plan deploys it
// again. Plan reads every host once (remote.Probe) while Nix evaluates,
// including the rollback watchdogs an interrupted run left pending, which
// the next deploy settles.
//
// Targets from resources (target.go): a target argument may refer to a
// resource (ssh(host = h.host, host_key = h.host_key)); the machine
// depends on it (engine.BuildConfigGraph). Plan resolves what it knows and
// shows the rest as known after apply, without reading that host; apply
// resolves the rest from its results, checks it, asks the target driver
// for the endpoint, waits until it accepts SSH and logs in with the host
// key pinned (a host_key that refers to an attribute the provider
// reported is enforced before the first login; without one, trust on
// first use). A machine whose system depends on a value known only after
// apply (module args, or what its evaluation reads) is planned as
// deferred, with the reference in its reason, and not evaluated; apply
// leaves it, and the next plan (a plan-less `ferry apply` makes it in the
// same run) deploys it.
//
// Rolling batches (rollout.go) are gate nodes between batches, reached
// through ordering edges (graph.ConnectAfter): a gate runs when its batch
// finished in any way and stops the rest when failures exceed
// max_failures.
//
// The interfaces with the core (pipeline.go):
//
//	core -> pipeline   Pipeline.Plan(ctx, plan, PlanRequest)
//	                   PlanRollout(rollout, plan)            after the core's edges
//	                   AddRolloutGates(graph, rollout)       the walk's gate nodes
//	                   Pipeline.CheckPlan, CheckDerivations, ResolveSecrets
//	                   Pipeline.Start(ApplyRequest) *Run
//	                   Run.Machine(addr), Run.Gate(ctx, addr), Run.RolledBack()
//	pipeline -> core   Values   the resource values planned so far
//	                   Results  this apply's results (targets known after apply)
//	                   Commit   a durable state change (the journal)
//	                   Sink     progress and warnings (the core's events)
//	                   Slots    a named concurrency limit (engine/limits.go)
//
// Shared types are the leaves' (engine/plan, engine/state, engine/spec);
// the limits' names and defaults are the core's (engine/limits.go), the
// pipeline only holds the slots it is given, at the step each bounds:
// copies around a closure transfer (what a host lacks is asked outside),
// activations from settling or arming the watchdog to the end of
// switch-to-configuration, host reads around a connect and probe, package
// diffs around one diff. A machine node holds no slot of the walk.
//
// Design notes, for what comes next (DESIGN.md, "Providers and targets"):
//
//   - Targets. Every host is reached through a target.Driver (Endpoint,
//     Wait, and optionally Rebooter, PowerSwitch); the pipeline knows no
//     kind's details. A cloud instance is a resource the core creates and
//     a machine whose target refers to it: the pipeline resolves the
//     references from Results at apply, waits for the endpoint and pins
//     the host key the provider reported before the first login.
//   - An install driver (nixos-anywhere style) is a driver plus a planned
//     action of its own: the plan would name the disks it wipes and the
//     facts it was planned against, and Run would re-read and compare them
//     before the destructive step, as it compares the current system
//     today (plan.Machine.Current). The host key ferry generates would be
//     pinned as a provider-reported one is.
//   - A transfer strategy per host (push over SSH today; substitute from a
//     cache the host trusts; push once to a fleet cache) belongs in
//     copyClosure, under the same copy limit; a host that cannot reach the
//     cache falls back to push.
//   - A build location per machine (build.go): the deployer (with Nix's
//     remote builders), the target, a build host the target fetches the
//     system from (remote.CopyBetween), or a system given by store path,
//     which Plan does not evaluate and locates instead (this machine's
//     store, the host's, or the host's substituters).
//
// What it must not do: import the engine core, decide ordering (the
// core's edges.go; rollout gates are added to the core's graph by
// AddRolloutGates), write state except through Commit, or let a secret
// reach a plan, the state, an event or an error.
package machines
