// Package timeprovider is the built-in "time.sleep" type, Terraform's
// time_sleep: creating it waits for a duration (for example to let a
// freshly started service settle before its dependents start), and so does
// destroying it. Its id is the creation time.
//
// The folder is providers/time; the package is named timeprovider so that
// it does not shadow the standard library's time where both are used.
//
// Provider returns it as the "time" provider, which takes no
// configuration; New returns the resource type alone.
//
// It owns only this resource type; it must not import lang or engine
// (engine/spec is the shared vocabulary and is allowed).
package timeprovider
