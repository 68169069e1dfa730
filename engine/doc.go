// Package engine turns a desired configuration (spec.Config) and the stored
// state into a plan, and executes a plan. All ordering rules live in one
// place (edges.go); apply executes the plan's actions and edges and never
// re-evaluates the configuration.
//
// Sub-packages: spec (shared vocabulary), state (state model and file
// format), statestore (state in any gocloud.dev bucket: locks, CAS
// snapshots, journal), plan (plan model and file format).
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
// Rolling batches (rollout.go) are gate nodes between batches, reached
// through ordering edges (graph.ConnectAfter): a gate runs when its batch
// finished in any way and stops the rest when failures exceed
// max_failures.
//
// engine must not import lang or cmd.
package engine
