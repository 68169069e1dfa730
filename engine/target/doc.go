// Package target is the target-driver contract: how a machine's target
// becomes an SSH endpoint that ferry logs in to. A driver serves one kind
// of target (spec.Target.Kind, recorded in plan.Target.Kind); the machine
// pipeline (engine/machines) looks drivers up in a Registry and never
// knows a kind's details.
//
// Division of labour. The pipeline (engine/machines/target.go) resolves a
// target's arguments: literals, and references or format() values to
// resource attributes (spec.Target.Refs). Known at plan time, they are
// checked then and the plan shows them; known only after apply (the
// resource is created or replaced by the plan), the plan shows "(known
// after apply)" and apply resolves them from its own results, checks them
// (host non-empty, port 1-65535, user non-empty, host_key parseable), and
// only then calls the driver. A driver thus always sees a plan.Target whose
// Refs are resolved, and answers:
//
//   - Endpoint: the address, port, user, jump chain and host key to log in
//     with. The host key is the one ferry pins before the first login;
//     a driver learns it through the provider whenever it can (ssh: the
//     host_key argument, which may refer to an attribute the provider
//     reported, e.g. a key it injected), and returns "" only when it
//     cannot: the first login then trusts what the host presents and state
//     pins it (trust on first use).
//   - Wait: block until the endpoint accepts SSH connections, or fail
//     after a timeout. The pipeline waits for machines whose endpoint
//     appeared in this apply (a new instance still booting), not for
//     literal hosts, which fail fast as before.
//   - optionally Rebooter (reboot and wait for a new boot) and
//     PowerSwitch (stop, start: a cloud API's, not SSH's).
//
// Decision: the contract lives in this sub-package of engine, with the
// ssh driver beside it, and imports engine/plan (the target as planned)
// and remote (the SSH endpoint and connections) only. A new kind plugs in
// as a new Driver registered on engine.Engine.Targets, without touching
// the engine core or the machine pipeline:
//
//   - aws.ec2 (instance.go): lang declares the machine's aws.instance
//     and gives the machine a target of kind "aws.ec2" whose host and
//     host_key are references to the instance's attributes (its address,
//     and the key ferry generated and handed to it in its user data),
//     resolved and pinned as for ssh, and whose Resource names the
//     instance; the driver reaches it as SSH does, stops and starts it
//     through Env.Power (the instance's provider, providers.PowerSwitch),
//     and points at the console output when it never answers (Hinter).
//   - install (later, nixos-anywhere style): a kind whose Endpoint is the
//     installer (kexec) and whose host key ferry generates and pins before
//     the first login; the destructive step itself is a planned action of
//     its own (its facts re-read and compared at apply), not a driver call.
//
// Nothing here decides ordering (engine/edges.go does), records state or
// talks to providers; Env carries what the caller lends a call: the run's
// SSH Dialer, and Power where a command reaches providers (ferry stop and
// start, engine.Engine.Power).
package target
