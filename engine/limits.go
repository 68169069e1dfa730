package engine

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sync/semaphore"
)

// Concurrency limits: every bound on how much of plan or apply runs at
// once is named here, with its default and what it bounds. Ordering comes
// from the graph; these decide how many run at once. The CLI takes its
// flags' defaults and help from this table (cmd/ferry/cli: kong vars), so
// a default changes here and nowhere else.
//
// Each limit of plan and apply is a semaphore
// (golang.org/x/sync/semaphore: slots below; a provider's own limit in
// providers.go) held for the step it bounds and waited for with the
// step's context, so an interrupted run stops waiting; --parallelism at
// apply is the graph walk's own bound (graph.Walk). Limits nest in one
// order only (a provider's own limit inside --parallelism; the machine
// limits inside no other), so no wait can deadlock.
//
// Not here, because they are internal to a package and no flag sets them:
// the state store's concurrent object reads and deletes
// (engine/statestore), and the SSH sessions on one connection
// (remote.Options.MaxSessions, 8, within OpenSSH's default MaxSessions of
// 10). Not bounded at all: connecting to the hosts apply deploys, and
// asking each what it lacks, which a machine node does as soon as it
// starts, while the build runs.

// Limit names one concurrency limit.
type Limit struct {
	// Name is what the limit is called in errors and docs; for a limit a
	// flag sets, the flag: --NAME.
	Name string
	// Flag reports whether a flag sets it; the others are fixed.
	Flag bool
	// Var names the kong variables of its default and help
	// (${VAR_default}, ${VAR_help}); "" is Name with "_" for "-".
	Var string
	// Default applies when the option is zero.
	Default int
	// Min is the smallest value a flag accepts (1; 0 for --build-jobs,
	// where 0 is Nix's own setting).
	Min int
	// Unit is what one slot is, for errors: "operations running at once".
	Unit string
	// Help says what it bounds and when, for --help.
	Help string
	// Commands are the commands whose flag sets it.
	Commands []string
}

var (
	// LimitParallelism bounds provider calls: the reads of refresh at
	// plan (each ReadMany or Read call holds a slot), and the resource
	// operations of apply (slots of the graph walk). A machine node holds
	// no slot of it: its steps wait for the machine limits below.
	LimitParallelism = Limit{Name: "parallelism", Flag: true, Default: 10, Min: 1,
		Unit:     "operations running at once",
		Help:     "Provider calls at once: reads while planning, resource operations while applying. Each provider also bounds its own calls by a limit it declares (an API's rate limit).",
		Commands: []string{"plan", "apply", "destroy"}}

	// LimitHostReads bounds the hosts plan reads at once (one connection
	// and one round trip each, while Nix evaluates): reads are small, so
	// the default is high enough that 100 hosts cost about one round
	// trip. A flag, because a deployer behind a small NAT table or a
	// bastion with MaxStartups may need fewer.
	LimitHostReads = Limit{Name: "max-concurrent-host-reads", Flag: true, Default: 64, Min: 1,
		Unit:     "hosts read at once",
		Help:     "Hosts read at once while planning (one SSH connection and one round trip each, during evaluation).",
		Commands: []string{"plan", "apply"}}

	// LimitCopy bounds closure transfers to hosts at apply; asking a host
	// what it lacks is outside it.
	LimitCopy = Limit{Name: "max-concurrent-copy", Flag: true, Default: 5, Min: 1,
		Unit:     "closure copies running at once",
		Help:     "Closure copies to hosts at once (the transfer; what a host lacks is asked outside this limit).",
		Commands: []string{"apply"}}

	// LimitActivate bounds activations at apply: from settling or arming
	// the rollback watchdog to the end of switch-to-configuration.
	LimitActivate = Limit{Name: "max-concurrent-activate", Flag: true, Default: 10, Min: 1,
		Unit:     "activations running at once",
		Help:     "Activations at once (switch-to-configuration, with its rollback watchdog).",
		Commands: []string{"apply"}}

	// LimitBuildJobs is Nix's --max-jobs for the one local build of every
	// system; 0 keeps the user's nix.conf (max-jobs, and its remote
	// builders). Builds on targets (build = "target") and on build hosts
	// (build_host) run there and are not bounded from here.
	LimitBuildJobs = Limit{Name: "build-jobs", Flag: true, Default: 0, Min: 0,
		Unit:     "Nix build jobs",
		Help:     "Nix build jobs of the local build of all systems (nix-store --max-jobs); 0 keeps nix.conf's max-jobs.",
		Commands: []string{"apply"}}

	// LimitPackageDiffs bounds the package diffs plan computes at once
	// (two local nix-store queries each). No flag: they are short, local
	// and bounded only so that a large fleet does not start thousands of
	// processes.
	LimitPackageDiffs = Limit{Name: "package diffs", Default: 16,
		Unit: "package diffs at once",
		Help: "computed at once while planning (local nix-store queries); fixed."}

	// LimitMachines bounds the machines a day-2 command (exec, info,
	// check, keys upload, check-health) works on at once: one SSH
	// connection each (errgroup.SetLimit in cmd/ferry/cli).
	LimitMachines = Limit{Name: "parallelism", Var: "machines", Flag: true, Default: 10, Min: 1,
		Unit:     "machines at once",
		Help:     "Machines at once.",
		Commands: []string{"exec", "info", "check", "keys upload", "check-health"}}

	// LimitProvider is each provider's own limit on its calls at once,
	// declared by the provider (providers.Configured.Limit: an API's rate
	// limit), held inside --parallelism; 0 means none. No flag: the
	// provider knows its API.
	LimitProvider = Limit{Name: "each provider's own limit", Default: 0,
		Unit: "calls to one provider configuration at once",
		Help: "calls to one provider configuration at once (an API's rate limit), on top of --parallelism; no flag."}
)

// Limits lists every named limit: those of plan and apply (flags first),
// then the day-2 commands'.
func Limits() []Limit {
	return []Limit{LimitParallelism, LimitHostReads, LimitCopy, LimitActivate, LimitBuildJobs, LimitPackageDiffs, LimitProvider, LimitMachines}
}

// Or is n, or the default when n is zero or less.
func (l Limit) Or(n int) int {
	if n <= 0 {
		return l.Default
	}
	return n
}

// Check refuses a flag value below the limit's minimum, saying what the
// flag means.
func (l Limit) Check(n int) error {
	if n < l.Min {
		return fmt.Errorf("--%s %d: give at least %d (%s)", l.Name, n, l.Min, l.Unit)
	}
	return nil
}

// LimitVars are the limits' defaults and help texts as kong variables
// (${parallelism_default}, ${parallelism_help}; dashes become
// underscores), so that flags take them from this table.
func LimitVars() map[string]string {
	out := map[string]string{}
	for _, l := range Limits() {
		if !l.Flag {
			continue
		}
		key := l.Var
		if key == "" {
			key = strings.ReplaceAll(l.Name, "-", "_")
		}
		out[key+"_default"] = strconv.Itoa(l.Default)
		out[key+"_help"] = l.Help
	}
	return out
}

// LimitsHelp describes the limits of plan and apply for the detailed
// help of command (plan, apply): its own limit flags are listed with their
// defaults in their flag group, so this names the limits of the other
// command and those no flag sets, each with its default.
func LimitsHelp(command string) string {
	var b strings.Builder
	b.WriteString("Concurrency limits: the flags under \"Concurrency limits\" below, each shown with its default, and:\n")
	for _, l := range Limits() {
		switch {
		case l.Flag && slices.Contains(l.Commands, command):
			continue // shown with the command's flags
		case l.Flag && !slices.Contains(l.Commands, "plan") && !slices.Contains(l.Commands, "apply"):
			continue // a day-2 command's
		case l.Flag:
			fmt.Fprintf(&b, "\n  - --%s (%s) of ferry %s: %s", l.Name, l.defaultText(), strings.Join(l.Commands, ", "), l.Help)
		default:
			fmt.Fprintf(&b, "\n  - %s (%s): %s", l.Name, l.defaultText(), l.Help)
		}
	}
	return b.String()
}

// defaultText is the default as help shows it.
func (l Limit) defaultText() string {
	switch l.Name {
	case LimitProvider.Name:
		return "declared by each provider"
	case LimitBuildJobs.Name:
		if l.Default == 0 {
			return "0: nix.conf's max-jobs"
		}
	}
	return strconv.Itoa(l.Default)
}

// slots is a named limit's semaphore: machines.Slots, and the provider
// reads of refresh.
type slots struct {
	name string
	sem  *semaphore.Weighted
}

// newSlots makes the semaphore of l with n slots (the default when n is
// zero or less).
func newSlots(l Limit, n int) *slots {
	name := l.Name
	if l.Flag {
		name = "--" + name
	}
	return &slots{name: name, sem: semaphore.NewWeighted(int64(max(l.Or(n), 1)))}
}

// Acquire waits for a slot, or for ctx; release gives the slot back.
func (s *slots) Acquire(ctx context.Context) (func(), error) {
	if err := s.sem.Acquire(ctx, 1); err != nil {
		return nil, fmt.Errorf("wait for a slot of %s: %w", s.name, err)
	}
	return func() { s.sem.Release(1) }, nil
}
