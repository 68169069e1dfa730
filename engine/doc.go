// Package engine turns a desired configuration (spec.Config) and the stored
// state into a plan, and executes a plan. All ordering rules live in one
// place (edges.go); apply executes the plan's actions and edges and never
// re-evaluates the configuration.
//
// The review contract: every option that changes what apply does is made
// at plan time and recorded in plan.Options; a plan is signed with the
// deployment's plan key (plan/sign.go, kept in the state store) and apply
// verifies it, so an edited plan is refused. Apply takes each resource's
// action and prior attributes from the plan (the refreshed "before"), and
// when it resolves values unknown at plan time it plans the resource again
// and compares with the reviewed "after" (apply_check.go): a change stops
// that resource and its dependents. A plan-less apply plans and applies in
// one Session, under one hold of the lock.
//
// One implementation of each rule, shared by plan and the day-2 commands:
// machine selection (selection.go), a machine's standing against state
// (drift.go: plan and check agree), the dependency graph of resources and
// machines (graphview.go), state surgery (surgery.go), pinned host keys
// (PinnedHostKey, hostkey.go) and targets (ResolveTarget, RemoteTarget,
// MachineTarget).
//
// Verified status: before a machine's activation starts, apply records it
// as unverified; when the deploy is activated, checked and confirmed, as
// verified. A killed run, a failed check without rollback or an
// interrupted rollback leaves it unverified, and the next plan deploys it
// again. Plan reads every host once (remote.Probe) while Nix evaluates,
// including the rollback watchdogs an interrupted run left pending, which
// the next deploy settles.
//
// Sub-packages: spec (shared vocabulary), state (state model and file
// format), statestore (state in any gocloud.dev bucket: locks, CAS
// snapshots, journal), plan (plan model and file format), target (the
// target-driver contract and the ssh driver; Engine.Targets).
//
// Durability: every completed operation is appended to the state journal
// (group commit: operations completing together share one write) before it
// is reported and before its dependents start; the final snapshot replaces
// the journal at the end of apply. A killed apply leaves a journal that the
// next plan folds into a new snapshot, so finished work is never repeated.
//
// Replacement is delete-then-create within one node; a resource that depends
// on a replaced one is handled after it.
//
// Machines (machines_plan.go, machines_apply.go): apply connects to each
// host while the systems build, asks what the host lacks outside the copy
// limit, streams under it, uploads keys (keys.go: the plan and the state
// hold only hashes; the secrets come from the configuration at apply and
// must match them), arms the magic-rollback watchdog for switch and test
// when the host runs a system, activates under the activation limit,
// confirms over a new SSH connection, runs the health checks (checks.go),
// and records the generation. A failure with rollback_on_failure switches
// back and is recorded too. --reboot activates with boot, reboots and
// waits for a new boot ID instead of the watchdog.
//
// Targets from resources (target_resolve.go): a target argument may refer
// to a resource (ssh(host = h.host, host_key = h.host_key)); the machine
// depends on it. Plan resolves what it knows and shows the rest as known
// after apply, without reading that host; apply resolves the rest from its
// results, checks it, asks the target driver for the endpoint, waits until
// it accepts SSH and logs in with the host key pinned (a host_key that
// refers to an attribute the provider reported is enforced before the
// first login; without one, trust on first use). A machine whose system
// depends on a value known only after apply (module args, or what its
// evaluation reads) is planned as deferred, with the reference in its
// reason, and not evaluated; apply leaves it, and the next plan (a
// plan-less `ferry apply` makes it in the same run) deploys it.
//
// Rolling batches (rollout.go) are gate nodes between batches, reached
// through ordering edges (graph.ConnectAfter): a gate runs when its batch
// finished in any way and stops the rest when failures exceed
// max_failures.
//
// engine must not import lang or cmd.
package engine
