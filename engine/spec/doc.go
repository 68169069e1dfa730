// Package spec is ferry's shared vocabulary: addresses, source positions,
// diagnostics, the value model (with references and unknowns), resource
// schemas and the neutral desired configuration that lang produces and
// engine consumes.
//
// It is a leaf: it imports nothing from this repository, so lang, engine,
// providers and remote can all depend on it without depending on each other.
package spec
