// Package providers holds the provider contract: the request and response
// structs a resource type implements, the registry the CLI fills explicitly
// (no init() side effects), and a conformance suite (providertest) that every
// provider runs.
//
// Providers know nothing about plans, state storage or Starlark: they are
// given prior attributes and desired arguments and return attributes. They
// must not import lang or engine (engine/spec, the shared vocabulary, is
// allowed).
package providers
