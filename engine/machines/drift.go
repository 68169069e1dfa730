package machines

import (
	"fmt"

	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/remote"
)

// Standing is how a machine stands against what ferry recorded,
// judged the one way plan and `ferry check` both judge it, so that they
// always agree: check reports what the next plan deploys again.
type Standing struct {
	// NotDeployed: ferry has not deployed the machine (no record, or no
	// system in it).
	NotDeployed bool
	// Deployed is the system ferry recorded; Observed what the host runs
	// (for a system activated with boot: what its profile boots).
	Deployed, Observed string
	// Drift: Observed is not Deployed.
	Drift bool
	// Unverified is the reason the last deploy did not finish verified,
	// "" when it did.
	Unverified string
	// Pending are switches left unconfirmed on the host whose watchdog
	// still runs: it will switch back on its own.
	Pending []remote.PendingWatchdog
}

// Judge compares a machine's record with what its host said.
func Judge(rec *state.Machine, facts remote.HostFacts) Standing {
	var s Standing
	for _, w := range facts.PendingWatchdogs {
		if w.Alive {
			s.Pending = append(s.Pending, w)
		}
	}
	if rec == nil || rec.Path == "" {
		s.NotDeployed = true
		s.Observed = facts.Current
		return s
	}
	if rec.Unverified() {
		s.Unverified = rec.StatusReason
		if s.Unverified == "" {
			s.Unverified = "no reason recorded"
		}
	}
	s.Deployed, s.Observed = rec.Path, facts.Current
	if rec.Activation == "boot" && facts.ProfileKnown {
		// Activated with boot: the host runs its old system until the
		// next boot; the profile is what ferry changed.
		s.Observed = facts.Profile.Path
	}
	s.Drift = s.Observed != s.Deployed
	return s
}

// OK reports whether nothing needs doing.
func (s Standing) OK() bool { return !s.Drift && s.Unverified == "" && len(s.Pending) == 0 }

// Problem says what is wrong, for people; "" when OK (or not deployed).
func (s Standing) Problem() string {
	switch {
	case len(s.Pending) > 0:
		return s.Pending[0].String()
	case s.Unverified != "":
		return "the last deploy did not finish verified: " + s.Unverified
	case s.Drift:
		return fmt.Sprintf("the host runs %s, but ferry deployed %s", orNone(s.Observed), s.Deployed)
	}
	return ""
}
