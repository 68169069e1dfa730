// Package statestore keeps ferry state for named deployments in a bucket:
// file:// (a local directory, the default `.ferry/` beside ferry.star),
// mem://, s3://, gs:// and any other gocloud.dev blob scheme whose driver
// the binary blank-imports.
//
// It owns the object layout, snapshots with compare-and-swap, the apply
// journal, and deployment locks. It must not know what the resources mean
// (that is engine and providers), must not import lang or cmd, and must not
// blank-import gocloud drivers: cmd registers them on blob's default URL mux
// (tests register their own).
//
// # Layout
//
// Per deployment NAME (letters, digits, '.', '_', '-'):
//
//	NAME/state/<serial %020d>.json      immutable snapshots (state.Encode,
//	                                    sealed with a key: see Encryption)
//	NAME/latest.json                    {"serial": N}: a hint, never trusted
//	NAME/lock.json                      the lock (LockInfo as JSON)
//	NAME/plan-key.json                  {"format_version": 1, "key": base64,
//	                                    "created": time}: the plan key
//	NAME/journal/<lineage>-<serial %020d>/<seq %010d>.json
//	                                    journal segments on top of that base
//	                                    snapshot ("none" and serial 0 before
//	                                    the first snapshot), one record a
//	                                    line, each sealed on its own
//	NAME/.tmp-<pid>-<tag>-<random>      file:// only: an object being
//	                                    written (see "file://" below)
//	.lock-NAME                          file:// only, beside the
//	                                    deployments: the host-local mutex
//	                                    that breaking a stale lock takes; it
//	                                    holds nothing and outlives
//	                                    DeleteDeployment (removing a flock
//	                                    file races with its users)
//
// # Consistency
//
// Snapshots are authoritative. Every snapshot and segment is created with
// "create if absent" (WriterOptions.IfNotExist; on file:// a hard link that
// fails if the name exists), so of two writers racing for serial N exactly
// one wins, whether or not they hold the lock. Write accepts serial N+1 on
// top of the latest snapshot N of the same lineage and nothing else.
//
// The latest snapshot is found from the hint, checked, then probed forward
// (N+1, N+2, ...) until a serial is absent, so a long history costs nothing
// and a stale or missing hint costs one listing.
//
// A deployment's state is the latest snapshot plus, in order, the journal
// segments whose base is that snapshot: the operations an apply completed
// before it crashed. A segment holds one record ({"changes": [...]}, see
// state.EncodeChanges) per line: on a bucket each Append is its own
// segment; on file:// the Appends of one Journal share a segment file.
// ReadInfo reports what Read replayed, down to the addresses it touched,
// so that `ferry state push` can refuse to drop unfolded work and say
// which.
//
// A journal whose base is superseded (a lower serial than the latest
// snapshot's, or the latest serial in another lineage) is stale: Read
// ignores it, and Write and OpenJournal delete it (best effort), so that
// one a killed run left goes at the next apply. The latest snapshot's
// journal is the record of a killed apply, which the next plan folds into
// a snapshot: only that Write retires it. A journal of a newer base than
// the caller has seen belongs to another run and stays too.
//
// # Locks
//
// The lock object is created if absent and holds who, where, which process,
// operation and ID. It is advisory: compare-and-swap is what keeps state
// consistent. Lock polls until its wait runs out or its context ends,
// pausing 50 ms, doubling up to a second, between attempts, whatever the
// reason to try again: a lock object that keeps appearing and
// disappearing gets an error saying so, never a busy loop.
// LockOptions.Waiting tells a caller whom it waits for. A lock left by a process
// that no longer exists on this machine (same host name, same boot and PID
// namespace, signal 0 says ESRCH) is broken by the next Lock, which reports
// it in Lock.BrokeStale; any other lock is broken only by Unlock with its ID.
// Release and Unlock read then delete, which cannot be one atomic step on a
// blob store; the window is a few milliseconds and only matters when
// someone unlocks a live run.
//
// # Plan key
//
// PlanKey is a per-deployment secret of 32 random bytes that signs plan
// files and keys digests of secrets. It is created with create-if-absent
// under the lock (two racing runs end with one key) and read without a
// lock to check a plan. An unreadable key object is an error: deleting it
// makes a new key, after which outstanding plans must be made again.
//
// # Encryption
//
// Opened WithSecrets (the CLI's --state-secrets=URL, FERRY_STATE_SECRETS:
// a gocloud.dev/secrets keeper such as base64key://KEY, awskms://,
// gcpkms://, hashivault://), a Store seals what may hold secrets before
// it leaves the process: snapshots, journal records and the plan key
// (which signs plans and keys the digests of secrets), each in the
// envelope of package sealed, still one JSON object (one line), so that
// names and file:// appends work as before. The lock and the latest hint
// stay clear: they hold no state. A sealed snapshot keeps its lineage and
// serial in its clear, authenticated header, so that History lists
// snapshots, and Write and OpenJournal check them, without decrypting.
//
// Reading opens what is sealed and takes what is clear as it is, so a
// deployment may hold both: turning encryption on leaves older snapshots
// clear and readable, and every snapshot, record and plan key written
// from then on is sealed. A sealed object this run cannot open (no key,
// another key, a KMS that refuses) is an error that names the key it
// needs; it is never taken for damage or for an empty deployment, and
// Write and OpenJournal refuse to write on top of a latest snapshot
// that this run cannot open (which would replace state blindly, the
// repair path of `ferry state push` included). Only an envelope that is
// unreadable, or that the very key that sealed it does not open, is
// damaged like a clear snapshot that does not decode.
//
// Turning it on: pass the key to every command; the next write (any
// apply, `ferry state push` of `ferry state pull`'s output, `ferry state
// rm`, ...) writes a sealed snapshot, and the next plan stores the plan
// key sealed. Older snapshots stay as written: `ferry state history`
// says which are sealed; `ferry delete` and a fresh deployment are the
// only ways to drop clear history. Rotating a key: --state-secrets=NEW,OLD
// seals with NEW and opens what OLD sealed; once a write (and a plan)
// happened with both, NEW alone reads the latest state. Turning it off:
// --state-secrets=none,OLD writes in clear while it still opens what OLD
// sealed; push a snapshot (`ferry state pull > s.json` then `ferry state
// push s.json`, both with that flag) and run a plan; from then on no key
// is needed for the latest state.
//
// # Deleting a deployment
//
// DeleteDeployment removes a locked deployment's objects in an order that
// keeps what is left readable: plan key, hint, stale journals, older
// snapshots, then the latest snapshot (after which the deployment reads
// as empty), the rest, and the lock last. A run killed midway leaves the
// deployment as it was or nothing, never an older state as the current
// one; deleting again finishes the job.
//
// # file:// and durability
//
// file:///abs/dir maps keys to files under dir, created on first write; no
// gocloud driver is involved. Objects are written to a temporary file in the
// deployment's folder and hard-linked to their name, which fails if the
// name exists (exclusive and atomic: readers never see half an object); on
// a filesystem without hard links the fallback is O_CREATE|O_EXCL. Files
// are 0600 and folders 0700 (state holds resource attributes and digests
// of secrets); folders made by an older ferry keep their mode.
//
// A temporary file is named after its writer: .tmp-<pid>-<tag>-<random>,
// where tag digests the host name and the process scope (boot and PID
// namespace, as for locks). A run killed with SIGKILL leaves its temporary
// files, and empty folders (a journal folder before its first record).
// Each Lock that takes a lock, and DeleteDeployment, removes from the
// deployment's folder (one listing, and one of journal/) the temporary
// files whose writer is a process of this host and scope that no longer
// exists, temporary files without a writer (".tmp-<digits>", written by
// an older ferry) unchanged for a day, and empty folders: never a live
// run's file, and an empty folder only, which writers recreate when it
// vanishes under them. Where the scope is unknown (no /proc), temporary
// files are never judged.
//
// A Journal on file:// creates its segment file exclusively at the first
// Append and then appends one line per Append with a single write(2);
// before each append it checks that no later segment exists (another run
// took over). Creating a file per group commit cost 0.05 to 1 ms of inode
// creation here (the most in /tmp), which for the 500 commits of a
// 5,000-resource apply exceeds the whole budget; an append costs
// microseconds.
//
// Snapshots are fsynced (file and folders) before Write returns. Journal
// records, the lock and the hint are not: the journal exists for a ferry
// process that dies (SIGKILL, panic, ^C), which the page cache survives,
// and an fsync per group commit would cost more than the apply's whole
// bookkeeping (0.36 ms per fsync measured here, times 500). A power loss
// during an apply can therefore lose or cut its last records; Read then
// names the damaged segment. Remote buckets are durable when a write
// returns.
package statestore
