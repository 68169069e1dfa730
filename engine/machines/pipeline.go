package machines

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/engine/target"
	"github.com/nixferry/ferry/providers/nix"
	"github.com/nixferry/ferry/remote"
)

// Pipeline plans and deploys machines. The engine core builds one from
// its own fields (engine.Engine's Nix, SSH and Targets) for every plan and
// apply, so a field changed between runs (a new SSH Dialer) is seen by
// the next.
type Pipeline struct {
	// Nix evaluates and builds; the zero value runs the nix-* tools from
	// PATH with the user's nix.conf.
	Nix nix.Nix
	// SSH reaches machines, one reused connection per host. Nil: hosts
	// are not contacted (plans then skip reading current systems, and
	// plans that deploy are refused by CheckPlan).
	SSH *remote.Dialer
	// Targets are the target drivers by kind; nil means target.Default().
	Targets *target.Registry
	// SSHConfig applies the user's SSH client configuration (the CLI's
	// ~/.ssh/config) to a target known only once its machine is evaluated
	// (spec.Target.FromNix), as it was applied to the configuration's
	// ssh() targets when loading: the host looked up, Port and User where
	// Target.Defaults names them. nil applies none.
	SSHConfig func(*spec.Target) error
}

// What the pipeline needs from the core. Each is small so that the core
// (package engine) can lend it without the pipeline importing the core.

// Sink receives the pipeline's progress; the core stamps each report with
// the time and forwards it as its own event (engine.EventProgress,
// engine.EventWarning, engine.EventNix). addr is a machine or rollout
// gate address, "" for the whole run; took is 0 when the report times
// nothing. It is called from many goroutines.
type Sink interface {
	Progress(addr string, took time.Duration, msg string)
	Warning(addr, msg string)
	// Nix is what Nix reported while evaluating or building for the
	// machine at addr ("" for the run: a derivation several machines
	// need), as it comes (nixlog.go).
	Nix(addr string, ev nix.LogEvent)
}

// Values are the resource values the plan builder resolved so far: the
// planned attributes of the resources planned before the machines, else
// (out of --target scope) the state's.
type Values interface {
	// Lookup resolves ref. known is false for a value known only after
	// apply; err names an attribute the resource does not have.
	Lookup(ref spec.Ref) (v any, known bool, err error)
	// Attrs is every resource's attributes by address (planned, else as
	// state records them), with the values known only after apply
	// marked (spec.Unknown): Nix's `resources` module argument.
	Attrs() map[string]any
}

// Results are what this apply produced, for the references the plan left
// unknown (a target's host): a resource's attributes as created or
// updated in this apply, else as state records them.
type Results interface {
	Lookup(ref spec.Ref) (any, bool)
}

// Commit records one change durably (the core's journal, group commit)
// and returns once it is; the machine's next step waits for it.
type Commit func(state.Change) error

// Slots is one named concurrency limit (engine/limits.go defines them
// all): Acquire waits for a slot, or fails when ctx ends; release gives it
// back. A nil Slots bounds nothing.
type Slots interface {
	Acquire(ctx context.Context) (release func(), err error)
}

// acquire takes a slot of s (nil: no limit).
func acquire(ctx context.Context, s Slots) (func(), error) {
	if s == nil {
		return func() {}, nil
	}
	return s.Acquire(ctx)
}

// drivers is the pipeline's target driver registry.
func (pl *Pipeline) drivers() *target.Registry {
	if pl.Targets != nil {
		return pl.Targets
	}
	return target.Default()
}

// CheckPlan refuses, before anything runs, a plan this pipeline cannot
// execute: machines to deploy without SSH, or of a target kind no driver
// serves.
func (pl *Pipeline) CheckPlan(p *plan.Plan) error {
	for _, m := range p.Machines {
		if m.Action == plan.Deploy && pl.SSH == nil {
			return fmt.Errorf("plan deploys %s but this ferry has no SSH configured", m.Addr)
		}
		if m.Action == plan.Deploy || m.Action == plan.UploadKeys {
			if _, err := pl.drivers().Driver(m.Target.Kind); err != nil {
				return fmt.Errorf("plan deploys %s: %w", m.Addr, err)
			}
		}
	}
	return nil
}

// NixpkgsPin pins the nixpkgs machines are evaluated with (an input of
// the plan, checked again at apply): the flake input flake when set (the
// NAR hash its flake.lock records), else the nixpkgs at path nixpkgs.
func (pl *Pipeline) NixpkgsPin(ctx context.Context, nixpkgs string, flake *spec.FlakeInput) (string, error) {
	if flake != nil {
		hash, err := nix.FlakeInputPin(nixFlakeInput(flake))
		if err != nil {
			return "", err
		}
		return "flake input " + flake.Input + " " + hash, nil
	}
	return pl.Nix.NixpkgsPin(ctx, nixpkgs)
}

// NeedsNixpkgs reports whether evaluating cfg's machines reads nixpkgs:
// not when every machine comes from a flake and nixpkgs() is not called.
func NeedsNixpkgs(cfg *spec.Config) bool {
	if cfg.Nixpkgs != "" || cfg.NixpkgsFlake != nil {
		return true
	}
	for _, m := range cfg.Machines {
		if m.Flake == nil {
			return true
		}
	}
	return false
}

func nixFlakeInput(f *spec.FlakeInput) nix.FlakeInput {
	if f == nil {
		return nix.FlakeInput{}
	}
	return nix.FlakeInput{Dir: f.Dir, Input: f.Input}
}

// Evaluates reports whether p holds machines evaluated with nixpkgs.
func Evaluates(p *plan.Plan) bool {
	for _, m := range p.Machines {
		if m.Drv != "" {
			return true
		}
	}
	return false
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
