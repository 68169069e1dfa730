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
// engine must not import lang or cmd.
package engine
