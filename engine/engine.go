package engine

import (
	"time"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/statestore"
	"github.com/nixferry/ferry/engine/target"
	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/nix"
	"github.com/nixferry/ferry/remote"
)

// Engine plans and applies deployments. Its fields are set once; an Engine
// is safe for one Plan or Apply at a time per deployment (the state lock
// enforces that across processes too).
type Engine struct {
	Providers *providers.Registry
	Store     *statestore.Store
	Version   string
	// Events receives progress; nil discards it. Called from many
	// goroutines: implementations must be safe for concurrent use.
	Events func(Event)
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Nix, SSH and Targets wire the machine pipeline (engine/machines),
	// built from them for every plan and apply (machines.go).
	//
	// Nix evaluates and builds machines; the zero value runs the nix-*
	// tools from PATH with the user's nix.conf.
	Nix nix.Nix
	// SSH reaches machines, one reused connection per host. Nil: machines
	// are not contacted (plans then skip reading current systems).
	SSH *remote.Dialer
	// Targets are the target drivers (engine/target), by kind; nil means
	// target.Default() (ssh).
	Targets *target.Registry
	// SSHConfig applies the user's SSH client configuration to the
	// targets machines take from their deployment options
	// (machines.Pipeline.SSHConfig); nil applies none.
	SSHConfig func(*spec.Target) error
}

// EventKind names a progress event.
type EventKind string

const (
	EventLockBroken EventKind = "lock_broken" // a stale lock of a dead local process was broken
	EventLockWait   EventKind = "lock_wait"   // another run holds the lock: waiting for it (--lock-timeout)
	EventRecovered  EventKind = "recovered"   // an interrupted apply's journal was folded into state
	EventRefreshed  EventKind = "refreshed"   // a resource was read (drift detection)
	EventStart      EventKind = "start"       // an operation started
	EventDone       EventKind = "done"        // an operation finished and is recorded
	EventFailed     EventKind = "failed"      // an operation failed
	EventSkipped    EventKind = "skipped"     // not run: a dependency failed
	EventCancelled  EventKind = "cancelled"   // not started: interrupted
	EventStateSaved EventKind = "state_saved" // a snapshot was written
	EventProgress   EventKind = "progress"    // a step of a longer operation (machines)
	EventWarning    EventKind = "warning"     // something the user should know; work goes on
	EventNix        EventKind = "nix"         // what Nix reported evaluating or building (Nix), for Addr ("": several machines)
)

// Event reports progress of plan or apply.
type Event struct {
	Kind     EventKind     `json:"event"`
	Time     time.Time     `json:"time"`
	Addr     string        `json:"address,omitempty"`
	Action   plan.Action   `json:"action,omitempty"`
	Duration time.Duration `json:"duration_ns,omitempty"`
	ID       string        `json:"id,omitempty"`
	Message  string        `json:"message,omitempty"`
	Cause    string        `json:"cause,omitempty"` // for skipped: the failed dependency
	Serial   uint64        `json:"serial,omitempty"`
	// Nix is what Nix reported (EventNix): a machine's evaluation
	// starting, a build starting, a line of its log, the counts of
	// derivations built and to build, a message.
	Nix *nix.LogEvent `json:"nix,omitempty"`
}

func (e *Engine) emit(ev Event) {
	if e.Events != nil {
		ev.Time = e.now()
		e.Events(ev)
	}
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}
