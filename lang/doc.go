// Package lang loads a ferry configuration (ferry.star and the files it
// loads) with go.starlark.net and turns it into a *spec.Config: neutral
// data with source positions and no Starlark left in it.
//
// It owns:
//   - file loading: load("//lib/x.star") rooted at the configuration
//     directory, load("./x.star") relative to the loading file, each file
//     executed once, cycles and escapes reported at the load statement;
//   - the dialect (top-level control flow, set, global reassignment) and
//     the execution step limit;
//   - the builtins: deployment(), var(), output() and one module per
//     resource provider built from spec.Schema ("null.resource" becomes
//     null.resource(name, **attrs));
//   - the values those builtins return (resources and references) and the
//     conversion of Starlark values into spec values;
//   - diagnostics with "file:line:col" positions relative to the
//     configuration directory.
//
// It must not import engine (other than the leaf engine/spec), providers,
// remote or any cloud SDK, and evaluation stays hermetic: no clock, no
// network, no environment except through var().
//
// Each Load builds its own builtins and keeps its per-run state (the
// configuration being built, the diagnostics) in a thread-local; there is
// no package-level mutable state. New builtins (machine(), ssh(),
// nix.module()) are added to the registry in registry.go.
//
// Resource calls take the name (positionally or by keyword) and the
// attributes by keyword. An argument passed as None counts as not passed;
// an omitted optional argument gets its schema Default, or is absent from
// spec.Resource.Args when it has none. Positions recorded for resources,
// outputs and diagnostics about calls are the start of the call
// expression (`null.resource(` at ferry.star:3:5), not its parenthesis.
// r.<attr> is a reference (spec.Ref); a reference turned into a string
// (str, %, format) is detected when passed and refused with an
// explanation, since its value is only known after apply.
//
// Problems that do not stop evaluation (an unknown argument, a duplicate
// resource, a second deployment()) are collected and evaluation goes on,
// so that one run reports all of them; errors that make a value
// unavailable (an unset var(), a Starlark runtime error) stop it.
package lang
