// Package local is the built-in "local.file" type, Terraform's local_file:
// a file on the machine that runs ferry, written atomically (a temporary
// file in the same folder, then a rename) so that a reader never sees half
// a file. Relative paths resolve against the configuration directory given
// to New, never against the process's working directory.
//
// Read looks at the real file, so an edit or removal outside ferry shows up
// as drift in the next plan: a removed file is created again, edited
// content or mode is written back.
//
// It owns only this resource type; it must not import lang or engine
// (engine/spec is the shared vocabulary and is allowed).
package local
