// Package providertest is the conformance suite every ferry provider runs
// from its own tests. RunProvider checks a provider as the registry and the
// engine use it (name, configuration schema, Configure, Describer, a Case
// for every type) and runs Run for each of its resource types; Run checks
// one type:
//
//   - always: the schema, the create / read / no-op plan / update / replace
//     / delete life cycle, plans with unknown arguments, concurrent use, and
//     a create with a cancelled context (it must start nothing and return
//     the context's error);
//   - by the Case: a create that outlives a short deadline (Case.Slow), the
//     partial state of a create that fails halfway (Case.Fail), sensitive
//     values kept out of every error message (Case.Sensitive);
//   - by the type's abilities: batch refresh equal to one Read per object,
//     in order, in few calls (BatchReader); a create whose response is lost
//     (a killed run) found again by its token and not made twice (Adopter);
//     import of an existing and an unknown ID (Importer); state of every
//     older schema version upgraded (StateUpgrader).
//
// Every sub-test talks to the type through the runtime checker
// (providers/checked), as the engine does, so that a provider breaking the
// contract fails with the checker's message. The suite only talks to a
// provider through the contract; it does not import the engine. Like lang,
// it applies schema defaults to the arguments it passes (see Config), and,
// like the engine, it passes a fresh idempotency token with every create.
//
// It is a test helper: production code must not import it.
package providertest
