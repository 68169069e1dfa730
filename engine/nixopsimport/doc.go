// Package nixopsimport reads the output of `nixops export` and turns one of
// its deployments into ferry state: each machine NixOps deployed to an
// existing host (type "none") becomes a ferry machine with its target, its
// pinned host key when NixOps recorded one, its deployed system and its
// generation; every other resource (EC2 and GCE machines, key pairs,
// buckets, ...) is carried as recorded, not managed (state.Recorded), so it
// stays visible in `ferry state list` until a provider can adopt it.
//
// The export format: one JSON object keyed by deployment UUID; each
// deployment holds NixOps's deployment attributes (strings, as NixOps keeps
// them in its SQLite database) and "resources", keyed by resource name,
// each with a "type" and its attributes, also strings. NixOps 1.x and 2.x
// write the same shape. A value of another shape (a number where NixOps
// writes a string, resources as a list) is refused with the path of the
// field, because it comes from a schema this package does not know.
//
// It changes no state itself: Import is a pure function the caller runs
// under the state lock (engine.ModifyState). It must not import lang, cmd
// or remote.
package nixopsimport
