// Package local is the built-in "local.file" type, Terraform's local_file:
// a file on the machine that runs ferry, written atomically (a temporary
// file in the same folder, then a rename) so that a reader never sees half
// a file. Relative paths resolve against the configuration directory given
// to New, never against the process's working directory.
//
// The temporary file, ".NAME.ferry-<pid>-<tag>-<random>" beside the target,
// allows nothing the final mode does not (its owner bits at most) until
// the final mode is set, and names its writer: a PID and a tag of the host
// and process scope (boot and PID namespace). The first create, update,
// read or delete of a file in a run removes from its folder the temporary
// files of writers of this host and scope that no longer exist, and the
// file's own temporary files without a writer (".NAME.ferry-<digits>",
// from an older ferry) unchanged for a day: what a killed run left, never
// what a live run is writing.
//
// Read looks at the real file, so an edit or removal outside ferry shows up
// as drift in the next plan: a removed file is created again, edited
// content or mode is written back.
//
// Provider(dir) returns it as the "local" provider, which takes no
// configuration; New(dir) returns the resource type alone.
//
// It owns only this resource type; it must not import lang or engine
// (engine/spec is the shared vocabulary and is allowed).
package local
