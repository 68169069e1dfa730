// Package fakecloud is the "fake" provider: a cloud that lives in this
// process or in a folder, for engine and CLI tests and benchmarks where no
// real cloud can run (AWS itself is tested later, on moto). It behaves the
// way the provider contract expects a cloud to: objects have IDs and ARNs,
// creates carry idempotency tokens, reads are batched, state has a schema
// version to upgrade from, and calls fail, hang or take time when a test
// says so.
//
//	fake.provider(region = "r1")                      # in memory
//	fake.provider(region = "r1", dir = "cloud")       # objects as JSON files in ./cloud
//	fake.provider(region = "r1", alias = "b", limit = 2, faults = {"fake.thing.create": "fail 1 throttled"})
//	fake.provider(region = "r1", hosts = [{"host": "127.0.0.5", "port": 2222, "host_key": "ssh-ed25519 AAAA..."}])
//
// Without dir, objects live in the Provider value, one store per region,
// so that a plan and an apply (two Configure calls) see the same objects.
// With dir, they live in DIR/objects/TYPE/ID.json, written atomically: a
// ferry process that is killed leaves them behind for the next run, which
// is what "kill during create" tests need. Nothing is package-level.
//
// Types:
//
//   - fake.thing: value (string, required), zone (string, force-new,
//     default "a"), secret (string, optional, sensitive); computed id and
//     arn. Schema version 2 (version 0 and 1 called zone "az"; version 0
//     had no arn nor secret), with UpgradeState from both. A BatchReader
//     (one "describe" call per page of page_size objects), an Importer (by
//     id) and an Adopter (by creation token).
//   - fake.slow: its create takes duration (honouring the context), for
//     timeouts and concurrency limits; zone forces a new one.
//   - fake.flaky: its create makes the object, then fails its second step
//     when fail_after_create = true, returning the partial state (ready =
//     false), for tainted objects.
//   - fake.host: a machine the cloud creates, for targets that come from
//     resources (ssh(host = h.host, port = h.port, host_key = h.host_key)).
//     Its create takes the first endpoint of the configuration's hosts
//     pool that no fake.host in the store holds (test hosts, in tests) and
//     reports it as the computed host, port and host_key (null when the
//     entry gives none: a cloud that learns no key), with id; a pool
//     without a free endpoint fails the create. value changes in place,
//     zone replaces it. The choice is atomic within one process only.
//
// Every type is an Importer and an Adopter; a create with a token makes the
// object carry it. With idempotent_tokens = true (the default), a create
// with a token already used returns the object it made, as EC2's
// ClientToken promises; with false, it makes another, as moto does, and
// only Adopt finds the first.
//
// Each API call has a name, TYPE.OP (fake.thing.create, .get, .update,
// .delete, .find, .describe; fake.flaky.ready for the second step). Calls
// are counted per configuration (Provider.Stats, StatsOf) and, with dir,
// appended to DIR/calls.log for other processes (DirStats); so are the
// calls that start hanging (DIR/hangs.log; Provider.WaitHanging waits for
// them in this process). A fault makes
// calls of one name misbehave; it is a line "MODE [COUNT] [MESSAGE]":
//
//	fail        the call fails before it does anything
//	fail-after  the call does its work, then fails (a create returns the
//	            partial state)
//	hang        the call waits until its context ends, doing nothing
//	hang-after  the call does its work, then waits until its context ends
//	            (a run killed after the cloud acted)
//
// COUNT, when given, is how many calls it affects before it is used up;
// without it, every call until it is removed. Faults come from the
// configuration's faults = {CALL: LINE}, from files DIR/faults/CALL
// holding the line (so that a CLI testscript can add and remove them
// between commands), or from Store.InjectFault.
//
// It owns only this fake; it must not import lang or engine (engine/spec
// is the shared vocabulary and is allowed).
package fakecloud
