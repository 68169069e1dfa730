// Package providertest is the conformance suite every ferry provider runs
// from its own tests: one Run call per resource type checks the schema, the
// create / read / no-op plan / update / replace / delete life cycle, plans
// with unknown arguments, and concurrent use.
//
// The suite only talks to a provider through providers.Resource, the way the
// engine does; it does not import the engine. Like lang, it applies schema
// defaults to the arguments it passes (see Config).
//
// It is a test helper: production code must not import it.
package providertest
