// Package null is the built-in "null.resource" type, Terraform's
// null_resource: it creates nothing outside ferry. Its random id changes
// whenever its triggers change, which makes it useful to order work, to
// force a dependent to be replaced, and to test the engine.
//
// Provider returns it as the "null" provider, which takes no
// configuration; New returns the resource type alone.
//
// It owns only this resource type; it must not import lang or engine
// (engine/spec is the shared vocabulary and is allowed).
package null
