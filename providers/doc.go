// Package providers holds the provider contract (v2), the registry the CLI
// fills explicitly (no init() side effects), and, in sub-packages, the
// providers themselves and the tools every provider is held to.
//
// A Provider is a namespace ("aws") that Configure turns into a Configured
// per NAME.provider(...) configuration: its resource types bound to that
// configuration, and a limit on concurrent calls. Providers without a
// configuration (null, time, local) are a providers.Static. A Resource
// plans, applies and reads one type; optional interfaces add abilities the
// engine uses when present: BatchReader (refresh in pages, not one call per
// object), Importer (adopt by ID), Adopter (find the object a create with an
// idempotency token made, after a killed run), StateUpgrader (state of an
// older schema version).
//
// Around the contract:
//
//   - checked is the runtime checker: the engine wraps every provider in it,
//     so that a result that breaks the contract becomes an error naming the
//     provider type as faulty instead of reaching a plan or the state.
//   - providertest is the conformance suite every provider runs from its
//     tests (RunProvider, Run), through the checker.
//   - fakecloud is the "fake" provider: a cloud in memory or in a folder,
//     with injectable faults, for engine and CLI tests where no real cloud
//     runs.
//   - null, time and local are the built-in providers; nix evaluates and
//     builds machines.
//
// Providers know nothing about plans, state storage or Starlark: they are
// given prior attributes and desired arguments and return attributes. They
// must not import lang or engine (engine/spec, the shared vocabulary, and
// its leaf engine/spec/atomicfile are allowed).
package providers
