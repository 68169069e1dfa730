// Package checked is the runtime checker of the provider contract: Wrap
// puts it around a resource type (WrapProvider around every type of a
// provider), and each call's result is checked against what the contract
// and the type's own schema promise before the engine sees it. A result
// that breaks the contract becomes a *Fault naming the provider type as
// faulty ("provider fault: aws.instance returned ... (a bug in the
// provider, not in your configuration)"), so that a user is not sent to
// look for a mistake in a configuration that has none, and a provider's
// slip never reaches a plan or the state.
//
// It checks what the engine would otherwise trust blindly: Plan returning
// attributes outside the schema or changing a configured argument; Apply
// returning attributes outside the schema, values still unknown, or a
// known planned argument other than planned; Read, ReadMany, Import, Adopt
// and UpgradeState returning values that are not JSON-like (what state
// files hold); ReadMany returning a response count other than the request
// count; Import returning nothing without an error. An error message that
// holds the value of a sensitive attribute is a fault too, and the value
// is redacted from it.
//
// The wrapper keeps the optional abilities visible: a wrapped BatchReader
// is a BatchReader, a wrapped resource that is not an Importer is not one.
//
// The checks are deliberately narrower than providertest's (which also
// wants every attribute planned and every known planned value kept): a
// runtime fault fails a real apply, so it is raised only where going on
// would record something wrong. It must not import lang or engine.
package checked
