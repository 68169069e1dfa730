// Package atomicfile replaces files atomically: through a temporary file
// in the target's folder, renamed over the target once complete
// (renameio's recipe), so that a reader sees the old file or the new one,
// never half of one, even when the writer is killed.
//
// It owns the names of those temporary files and the judgement of whose
// they are. A temporary file names its writer:
// ".NAME.ferry-<pid>-<tag>-<random>" beside the file NAME (DefaultNames;
// another Mark gives another scheme), where tag digests the host name and
// the process scope (boot and PID namespace, ProcessScope): a PID means
// something only there. Sweep removes
// the temporary files of writers of this host and scope that no longer
// exist, which is what a ferry killed with SIGKILL left, and never a live
// process's file nor one whose writer's scope is unknown (no /proc).
// ProcessScope and ProcessAlive serve the same judgement elsewhere (stale
// locks in engine/statestore).
//
// WriteFile is the whole recipe; Create and Pending let a caller write the
// temporary file itself; Names.CreateTemp, SyncDir and Names.Sweep serve a
// caller that places its temporary files its own way (engine/statestore
// links them, for create-if-absent, from the deployment's folder).
//
// It is a leaf below engine/spec: it imports only the standard library, so
// that engine, providers and cmd can all use it. It must not learn about
// ferry's state, plans or resources; what to sweep and when is the
// caller's choice.
package atomicfile
