// Package engine is ferry's core: it turns a desired configuration
// (spec.Config) and the stored state into a plan, and executes a plan. All
// ordering rules live in one place (edges.go); apply executes the plan's
// actions and edges and never re-evaluates the configuration.
//
// The core and the machine pipeline. The core plans resources and walks
// resources and machines alike; everything particular to machines
// (evaluation, builds, closure copies, activation, keys, health checks,
// rollbacks, rollout gates, reboots, GC roots of plans, drift judgement,
// target resolution) is the pipeline's, in engine/machines, driven
// through the target-driver contract (engine/target). The pipeline never
// imports this package: the core lends it small interfaces (machines.go
// holds every crossing):
//
//   - at plan time, after the resources are planned, planMachines calls
//     machines.Pipeline.Plan with the configuration, the state, the
//     options, the configuration graph's dependencies and --target scope,
//     and machines.Values (the resource values planned so far); the
//     pipeline appends the machines to the plan. The core then computes
//     the execution edges (edges.go) and asks for the rollout batches
//     (machines.PlanRollout), which need the edges.
//   - at apply, startMachines calls machines.Pipeline.Start with a
//     machines.Commit (the journal's group commit), machines.Results (this
//     apply's results, for targets known only after apply), a
//     machines.Sink (progress becomes the core's Events) and
//     machines.Limits (limits.go's semaphores); the walk runs each machine
//     node with Run.Machine and each rollout gate with Run.Gate, reporting
//     them as it reports resources (EventStart, EventDone, EventFailed).
//   - before anything runs, apply asks the pipeline to refuse what it
//     cannot execute (CheckPlan, CheckDerivations) and to read the keys
//     (machines.ResolveSecrets), all of which may make the plan stale.
//
// Shared types live in the leaves: plan (plan.StaleError,
// plan.KeyedDigest), state and spec. The day-2 commands call the pipeline
// directly (machines.Select, MachineTarget, Judge, UploadKeys, RunChecks,
// RecordFor ...); what needs the state store or its lock stays here
// (PinHostKey, PlanKey, CleanPlanRoots, ReleasePlanRoots).
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
// machine selection, a machine's standing against state, pinned host keys
// and targets (engine/machines), the dependency graph of resources and
// machines (graphview.go), state surgery (surgery.go).
//
// Concurrency limits (limits.go): every bound on how much runs at once is
// named there with its default and what it bounds, and the CLI's flags
// take their defaults and help from it: --parallelism (provider reads at
// plan, resource operations at apply: the walk's slots), the hosts read
// at plan (--max-concurrent-host-reads), closure copies
// (--max-concurrent-copy), activations (--max-concurrent-activate), Nix's
// build jobs (--build-jobs), package diffs at plan (fixed), and each
// provider's own limit (declared by the provider, held inside
// --parallelism). Each is a semaphore waited for with the step's context.
// A machine node gives its walk slot back at once and holds only the
// machine limits, at the steps they bound.
//
// Sub-packages: spec (shared vocabulary), state (state model and file
// format), statestore (state in any gocloud.dev bucket: locks, CAS
// snapshots, journal), plan (plan model and file format), target (the
// target-driver contract and the ssh driver; Engine.Targets), machines
// (the machine pipeline).
//
// Durability: every completed operation is appended to the state journal
// (group commit: operations completing together share one write) before it
// is reported and before its dependents start; the final snapshot replaces
// the journal at the end of apply. A killed apply leaves a journal that the
// next plan folds into a new snapshot, so finished work is never repeated.
// The machine pipeline records through the same committer: a machine's
// unverified status before its activation starts, its record when it
// finishes.
//
// Replacement is delete-then-create within one node; a resource that depends
// on a replaced one is handled after it.
//
// engine must not import lang or cmd; engine/machines must not import
// engine (cmd/ferry/cli's boundary test checks both).
package engine
