package nix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// DefaultMachineMemory is the memory one machine's evaluation is assumed to
// need before any pass has been measured: a typical NixOS machine takes a few
// hundred megabytes in nix-instantiate.
const DefaultMachineMemory = 512 << 20

// ErrKnownAfterApply is matched (errors.Is) by the evaluation error of a
// machine whose configuration uses a value that exists only after apply (a
// spec.Unknown in resources or args). Such a machine is evaluated at apply.
var ErrKnownAfterApply = errors.New("uses a value known only after apply")

// EvalOptions says what Evaluate evaluates.
type EvalOptions struct {
	// Nixpkgs is the absolute path of nixpkgs; empty means <nixpkgs> from
	// NIX_PATH (set it with Nix.Env if needed).
	Nixpkgs string
	// NixpkgsFlake, when set, is the flake input machines not from a flake
	// are evaluated with, instead of Nixpkgs.
	NixpkgsFlake FlakeInput
	// Machines is the whole deployment: every machine is in nodes, even
	// when Names selects fewer to evaluate.
	Machines []Machine
	// Resources is the resources module argument.
	Resources map[string]any
	// Names, when not empty, are the machines to evaluate (the others are
	// evaluated only as far as these refer to them through nodes).
	Names []string
	// MemoryBudget, in bytes, splits evaluation into several
	// nix-instantiate passes, one after the other, each with as many
	// machines as the budget allows. Zero means one pass for all.
	MemoryBudget int64
	// MachineMemory is the memory, in bytes, one machine is assumed to need
	// when sizing the first pass; later passes are sized from the peak
	// memory the earlier ones measured. Zero means DefaultMachineMemory.
	MachineMemory int64
	// KeepGoing evaluates every machine it can when some fail: their errors
	// are joined and the results hold the others. Without it evaluation
	// stops at the first failing machine.
	KeepGoing bool
	// ShowTrace passes --show-trace, so errors carry Nix's evaluation trace.
	ShowTrace bool
	// OnPass, when set, is called after each nix-instantiate pass.
	OnPass func(EvalPass)
	// OnLog, when set, receives what Nix reports as it evaluates: a
	// LogEvaluating event when each machine's evaluation starts, then
	// Nix's messages and activities (copies of sources to the store,
	// builds of derivations the evaluation imports) with Machine set to
	// that machine. It is called from the goroutine reading Nix's stderr.
	OnLog func(LogEvent)
}

// Evaluated is one machine's evaluated system.
type Evaluated struct {
	// DrvPath is the toplevel derivation, written to the store.
	DrvPath string `json:"drv_path"`
	// OutPath is the output path the derivation will build.
	OutPath string `json:"out_path"`
	// Warnings are the messages the machine's evaluation traced (NixOS
	// warnings), in order.
	Warnings []string `json:"warnings,omitempty"`
	// Boot holds the store paths the system's kernel, initrd and
	// kernel-modules links will resolve to, known without building; nil
	// when nixpkgs has none of the options they come from (or the system
	// has no kernel of its own, like a container).
	Boot *BootFiles `json:"boot,omitempty"`
	// Deployment is what the machine's modules set in ferry's deployment
	// options (NixOps and Colmena's deployment.*); nil from expressions
	// that report none.
	Deployment *Deployment `json:"deployment,omitempty"`
	// Disko is the machine's disko layout; nil when config.disko.devices
	// is empty or the system has no disko module.
	Disko *Disko `json:"disko,omitempty"`
}

// Disko is what evaluation reports of a machine's disko layout (disko's
// NixOS module: config.disko.devices, config.system.build.diskoScript).
type Disko struct {
	// Disks are the device paths of disko.devices.disk.*.device, sorted.
	Disks []string `json:"disks"`
	// ScriptDrv and Script are the derivation and output of the script
	// that destroys, formats and mounts the layout under /mnt; "" when
	// the module builds none.
	ScriptDrv string `json:"drv,omitempty"`
	Script    string `json:"out,omitempty"`
}

// Deployment holds the values of a machine's deployment.* options after
// evaluation (deployment.nix). Zero values (empty strings, port 0) were
// left unset in Nix; ferry's configuration decides then.
type Deployment struct {
	TargetHost        string         `json:"targetHost,omitempty"`
	TargetPort        int            `json:"targetPort,omitempty"`
	TargetUser        string         `json:"targetUser,omitempty"`
	Tags              []string       `json:"tags,omitempty"`
	HasFastConnection bool           `json:"hasFastConnection,omitempty"`
	AlwaysActivate    bool           `json:"alwaysActivate,omitempty"`
	BuildOnTarget     bool           `json:"buildOnTarget,omitempty"`
	Keys              map[string]Key `json:"keys,omitempty"`
}

// Key is one deployment.keys.<name> of a machine. Text is the key itself:
// it is never written to JSON (plans and state keep digests only).
type Key struct {
	Text        string   `json:"-"`
	HasText     bool     `json:"hasText,omitempty"`
	KeyFile     string   `json:"keyFile,omitempty"`
	KeyCommand  []string `json:"keyCommand,omitempty"`
	DestDir     string   `json:"destDir"`
	User        string   `json:"user"`
	Group       string   `json:"group"`
	Permissions string   `json:"permissions"`
	UploadAt    string   `json:"uploadAt"`
}

// deploymentJSON is Deployment as the expression prints it (nulls for
// unset values, key texts included).
type deploymentJSON struct {
	TargetHost                        *string
	TargetPort                        *int
	TargetUser                        *string
	Tags                              []string
	HasFastConnection, AlwaysActivate bool
	BuildOnTarget                     bool
	Keys                              map[string]struct {
		Text, KeyFile        *string
		KeyCommand           []string
		DestDir, User, Group string
		Permissions          string
		UploadAt             string
	}
}

func (d *deploymentJSON) deployment() *Deployment {
	if d == nil {
		return nil
	}
	out := &Deployment{Tags: slices.Clip(d.Tags), HasFastConnection: d.HasFastConnection, AlwaysActivate: d.AlwaysActivate, BuildOnTarget: d.BuildOnTarget}
	if len(out.Tags) == 0 {
		out.Tags = nil
	}
	if d.TargetHost != nil {
		out.TargetHost = *d.TargetHost
	}
	if d.TargetPort != nil {
		out.TargetPort = *d.TargetPort
	}
	if d.TargetUser != nil {
		out.TargetUser = *d.TargetUser
	}
	for name, k := range d.Keys {
		if out.Keys == nil {
			out.Keys = map[string]Key{}
		}
		key := Key{KeyCommand: k.KeyCommand, DestDir: k.DestDir, User: k.User, Group: k.Group, Permissions: k.Permissions, UploadAt: k.UploadAt}
		if k.Text != nil {
			key.Text, key.HasText = *k.Text, true
		}
		if k.KeyFile != nil {
			key.KeyFile = *k.KeyFile
		}
		out.Keys[name] = key
	}
	return out
}

// BootFiles are what a system boots: the store paths its kernel, initrd and
// kernel-modules links resolve to, as NixOS's top-level.nix makes them:
//
//	Kernel  ${config.boot.kernelPackages.kernel}/${config.system.boot.loader.kernelFile}
//	Initrd  ${config.system.build.initialRamdisk}/${config.system.boot.loader.initrdFile}
//	Modules ${config.system.modulesTree}
//
// An empty field is unknown: nixpkgs lacks its options, or evaluating them
// threw (an option used but not defined), or the system has no such link
// (boot.kernel.enable or boot.initrd.enable false, boot.isContainer).
// Compare them with `readlink -f /run/booted-system/{kernel,initrd,kernel-modules}`
// on the host to tell whether activating the system needs a reboot (the
// engine compares them with remote.BootFiles.Changes: one rule).
type BootFiles struct {
	Kernel  string `json:"kernel,omitempty"`
	Initrd  string `json:"initrd,omitempty"`
	Modules string `json:"modules,omitempty"`
}

// IsZero reports whether no boot file is known.
func (b *BootFiles) IsZero() bool {
	return b == nil || *b == BootFiles{}
}

// EvalPass describes one nix-instantiate run of Evaluate.
type EvalPass struct {
	Machines  []string      // the machines the pass was asked to evaluate
	Evaluated int           // how many it evaluated
	Failed    string        // the machine it failed on, if any
	Duration  time.Duration // wall time of the process
	MaxRSS    int64         // peak resident memory of the process, bytes
}

// MachineError is the evaluation error of one machine.
type MachineError struct {
	Machine string
	// Message is Nix's own error message.
	Message string
	// Traced says whether Message carries Nix's trace (ShowTrace).
	Traced bool
}

func (e *MachineError) Error() string {
	msg := fmt.Sprintf("evaluate machine %s: %s", e.Machine, e.Message)
	if !e.Traced && !strings.Contains(e.Message, unknownMarker) {
		msg += "\n(plan again with --show-trace to see where Nix was evaluating)"
	}
	return msg
}

// Is makes errors.Is(err, ErrKnownAfterApply) true for a machine that used
// a value known only after apply.
func (e *MachineError) Is(target error) bool {
	return target == ErrKnownAfterApply && strings.Contains(e.Message, unknownMarker)
}

// Evaluate evaluates machines with the zero Nix (see Nix.Evaluate).
func Evaluate(ctx context.Context, opts EvalOptions) (map[string]Evaluated, error) {
	return Nix{}.Evaluate(ctx, opts)
}

// Evaluate evaluates the machines' systems with one nix-instantiate process
// (several, one after the other, only under MemoryBudget) running the
// expression of Expression in --eval --strict --json --read-write-mode: this
// writes every toplevel .drv to the store and prints drv and output paths in
// one go, with no extra store query. The result maps machine names to their
// systems.
//
// An evaluation error names the machine it happened in (the expression
// traces a marker before each machine) and carries Nix's message. With
// KeepGoing the other machines are still evaluated (a pass that failed is run
// again without the failed machine; machines Nix had already printed are
// kept) and all errors are returned joined, next to the results. An error
// outside any machine (nixpkgs itself failing) stops evaluation.
//
// The .drv files are not registered as garbage collector roots: a garbage
// collection between evaluation and build removes them unless the caller
// roots them (AddDrvRoots).
func (n Nix) Evaluate(ctx context.Context, opts EvalOptions) (map[string]Evaluated, error) {
	names, err := checkEval(opts)
	if err != nil {
		return nil, err
	}
	results := map[string]Evaluated{}
	if len(names) == 0 {
		return results, nil
	}
	dir, err := os.MkdirTemp("", "ferry-eval-")
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "deployment.nix")
	if err := os.WriteFile(file, []byte(expression(opts)), 0o644); err != nil {
		return nil, fmt.Errorf("evaluate: write the expression: %w", err)
	}

	perMachine := opts.MachineMemory
	if perMachine <= 0 {
		perMachine = DefaultMachineMemory
	}
	var errs []error
	queue := names
	for len(queue) > 0 {
		size := len(queue)
		if opts.MemoryBudget > 0 {
			size = int(min(max(opts.MemoryBudget/perMachine, 1), int64(len(queue))))
		}
		chunk := queue[:size]
		queue = queue[size:]
		everything := len(chunk) == len(opts.Machines)
		pass, err := n.evalPass(ctx, file, chunk, everything, opts.ShowTrace, needsFlakes(opts), opts.OnLog)
		for name, ev := range pass.results {
			results[name] = ev
		}
		if opts.OnPass != nil {
			opts.OnPass(pass.EvalPass)
		}
		if forced := pass.Evaluated + btoi(pass.Failed != ""); pass.MaxRSS > 0 && forced > 0 {
			perMachine = max(pass.MaxRSS/int64(forced), 1)
		}
		if err == nil {
			continue
		}
		var me *MachineError
		if !opts.KeepGoing || !errors.As(err, &me) {
			return results, err
		}
		errs = append(errs, err)
		var rest []string
		for _, name := range chunk {
			if _, done := results[name]; !done && name != me.Machine {
				rest = append(rest, name)
			}
		}
		queue = append(rest, queue...)
	}
	return results, errors.Join(errs...)
}

// needsFlakes reports whether the evaluation reads flakes: machines or
// nixpkgs from flakes, or inline modules that read one (the nodes of
// colmena.hive(flake = ...)). Flakes are enabled for such calls only.
func needsFlakes(opts EvalOptions) bool {
	if len(flakeDirs(opts)) > 0 {
		return true
	}
	for _, m := range opts.Machines {
		for _, mod := range m.Modules {
			if strings.Contains(mod.Inline, "builtins.getFlake") {
				return true
			}
		}
	}
	return false
}

type evalPass struct {
	EvalPass
	results map[string]Evaluated
}

// evalPass runs nix-instantiate once for chunk: on file itself when chunk
// is every machine (exactly the plain command of Expression), else on a
// small file selecting the chunk.
func (n Nix) evalPass(ctx context.Context, file string, chunk []string, everything, showTrace, flakes bool, onLog func(LogEvent)) (evalPass, error) {
	args := []string{"--eval", "--strict", "--json", "--read-write-mode"}
	if flakes {
		args = append(args, flakeFeatures...)
	}
	if showTrace {
		args = append(args, "--show-trace")
	}
	target := file
	if !everything {
		target = filepath.Join(filepath.Dir(file), "pass.nix")
		if err := os.WriteFile(target, []byte(selectExpression(file, chunk)), 0o644); err != nil {
			return evalPass{}, fmt.Errorf("evaluate: %w", err)
		}
	}
	args = append(args, target)
	start := time.Now()
	res, runErr := n.run(ctx, newLogStream(machineEvents(onLog), 0), "nix-instantiate", args...)
	pass := evalPass{EvalPass: EvalPass{Machines: chunk, Duration: time.Since(start), MaxRSS: res.maxRSS}}

	trace := scanEvalStderr(res.stderr)
	pass.results = decodeEvaluated(res.stdout)
	for name, ev := range pass.results {
		ev.Warnings = trace.warnings[name]
		pass.results[name] = ev
	}
	pass.Evaluated = len(pass.results)
	if runErr == nil {
		if missing := missingNames(chunk, pass.results); len(missing) > 0 {
			return pass, fmt.Errorf("evaluate: nix-instantiate printed no system for %s; this is a bug in ferry's expression", strings.Join(missing, ", "))
		}
		return pass, nil
	}
	var ee *exitError
	if !errors.As(runErr, &ee) {
		return pass, fmt.Errorf("evaluate: %w", runErr)
	}
	msg := nixMessage(ee.stderr)
	if !strings.Contains(ee.stderr, "error:") {
		// Killed, most likely: out of memory.
		return pass, fmt.Errorf("evaluate: %w; if Nix ran out of memory, set an evaluation memory budget", runErr)
	}
	if flakes && needsNetwork(msg) {
		msg += "\n" + networkAdvice
	}
	if trace.current == "" {
		return pass, fmt.Errorf("evaluate the deployment (before any machine): %s\n(check the nixpkgs pin; plan again with --show-trace for Nix's trace)", msg)
	}
	pass.Failed = trace.current
	delete(pass.results, trace.current)
	pass.Evaluated = len(pass.results)
	return pass, &MachineError{Machine: trace.current, Message: msg, Traced: showTrace}
}

// machineEvents turns the machine markers the expression traces into
// LogEvaluating events and stamps every other event with the machine being
// evaluated. Nil stays nil: nothing is sent.
func machineEvents(onLog func(LogEvent)) func(LogEvent) {
	if onLog == nil {
		return nil
	}
	current := ""
	return func(ev LogEvent) {
		if ev.Kind == LogMessage {
			if rest, ok := strings.CutPrefix(ev.Text, "trace: "+machineMarker); ok {
				if json.Unmarshal([]byte(rest), &current) == nil {
					onLog(LogEvent{Kind: LogEvaluating, Level: LevelInfo, Machine: current, Text: "evaluating"})
				}
				return
			}
		}
		ev.Machine = current
		onLog(ev)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// evalTrace is what nix-instantiate's stderr says about the machines.
type evalTrace struct {
	current  string              // the last machine whose evaluation started
	warnings map[string][]string // traced messages per machine
}

func scanEvalStderr(stderr []byte) evalTrace {
	t := evalTrace{warnings: map[string][]string{}}
	inTrace := false
	for _, line := range strings.Split(string(stderr), "\n") {
		msg, isTrace := strings.CutPrefix(line, "trace: ")
		switch {
		case isTrace && strings.HasPrefix(msg, machineMarker):
			var name string
			if json.Unmarshal([]byte(strings.TrimPrefix(msg, machineMarker)), &name) == nil {
				t.current = name
			}
			inTrace = false
		case isTrace:
			t.warnings[t.current] = append(t.warnings[t.current], msg)
			inTrace = true
		case strings.HasPrefix(line, "error:"):
			return t
		case inTrace && line != "":
			// A traced message spanning several lines.
			w := t.warnings[t.current]
			w[len(w)-1] += "\n" + line
		default:
			inTrace = false
		}
	}
	return t
}

// decodeEvaluated reads nix-instantiate's JSON, keeping every complete entry
// even when the output stops in the middle (Nix prints machines as it
// evaluates them and stops at an error).
func decodeEvaluated(stdout []byte) map[string]Evaluated {
	out := map[string]Evaluated{}
	dec := json.NewDecoder(bytes.NewReader(stdout))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return out
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		name, ok := tok.(string)
		if !ok {
			break
		}
		var entry struct {
			Drv, Out   string
			Boot       *BootFiles      // older expressions print none
			Deployment *deploymentJSON // older expressions print none
			Disko      *Disko
		}
		if err := dec.Decode(&entry); err != nil {
			break
		}
		if entry.Drv != "" && entry.Out != "" {
			ev := Evaluated{DrvPath: entry.Drv, OutPath: entry.Out, Deployment: entry.Deployment.deployment(), Disko: entry.Disko}
			if !entry.Boot.IsZero() {
				ev.Boot = entry.Boot
			}
			out[name] = ev
		}
	}
	return out
}

func missingNames(names []string, got map[string]Evaluated) []string {
	var missing []string
	for _, name := range names {
		if _, ok := got[name]; !ok {
			missing = append(missing, name)
		}
	}
	return missing
}

// checkEval validates the options and returns the sorted names to evaluate.
func checkEval(opts EvalOptions) ([]string, error) {
	if opts.Nixpkgs != "" {
		if !filepath.IsAbs(opts.Nixpkgs) {
			return nil, fmt.Errorf("evaluate: nixpkgs %q is not an absolute path", opts.Nixpkgs)
		}
		entry := filepath.Join(opts.Nixpkgs, "nixos", "lib", "eval-config.nix")
		if _, err := os.Stat(entry); err != nil {
			return nil, fmt.Errorf("evaluate: nixpkgs %s has no nixos/lib/eval-config.nix (%w); point the nixpkgs pin at a nixpkgs checkout", opts.Nixpkgs, err)
		}
	}
	if !opts.NixpkgsFlake.IsZero() {
		if err := checkFlakeDir(opts.NixpkgsFlake.Dir); err != nil {
			return nil, fmt.Errorf("evaluate: nixpkgs: %w", err)
		}
		if opts.NixpkgsFlake.Input == "" {
			return nil, fmt.Errorf("evaluate: nixpkgs: flake %s: no input named; name the flake's nixpkgs input", opts.NixpkgsFlake.Dir)
		}
	}
	seen := map[string]bool{}
	for _, m := range opts.Machines {
		if m.Name == "" {
			return nil, errors.New("evaluate: a machine has no name")
		}
		if m.Flake != nil {
			if err := checkFlakeDir(m.Flake.Dir); err != nil {
				return nil, fmt.Errorf("evaluate machine %s: %w", m.Name, err)
			}
			if m.Flake.Attr == "" {
				return nil, fmt.Errorf("evaluate machine %s: flake %s: no nixosConfigurations attribute named", m.Name, m.Flake.Dir)
			}
		}
		if seen[m.Name] {
			return nil, fmt.Errorf("evaluate: two machines are named %s; machine names must be unique", m.Name)
		}
		seen[m.Name] = true
		for i, mod := range m.Modules {
			switch {
			case mod.Path == "" && mod.Inline == "":
				return nil, fmt.Errorf("evaluate machine %s: module %d has neither a path nor inline text", m.Name, i+1)
			case mod.Path == "":
			case !filepath.IsAbs(mod.Path):
				return nil, fmt.Errorf("evaluate machine %s: module path %q is not absolute", m.Name, mod.Path)
			default:
				if _, err := os.Stat(mod.Path); err != nil {
					return nil, fmt.Errorf("evaluate machine %s: module %w; check the path given to nix.module", m.Name, err)
				}
			}
		}
	}
	names := opts.Names
	if len(names) == 0 {
		names = make([]string, 0, len(seen))
		for name := range seen {
			names = append(names, name)
		}
	}
	names = slices.Clone(names)
	sort.Strings(names)
	names = slices.Compact(names)
	for _, name := range names {
		if !seen[name] {
			return nil, fmt.Errorf("evaluate: no machine is named %s", name)
		}
	}
	return names, nil
}
