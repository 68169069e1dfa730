package lang

import (
	"fmt"
	"os"

	"go.starlark.net/starlark"

	"github.com/nixferry/ferry/engine/spec"
)

// runKey is the thread-local key of the *run of a Load.
const runKey = "ferry.lang.run"

// maxDiagnostics bounds how many collected problems one Load reports
// before it stops: a mistake inside a loop should not print ten thousand
// lines.
const maxDiagnostics = 50

// run is the state of one Load: its inputs, the configuration being
// built and the problems found so far. It travels as a thread-local, so
// builtins reach it through runOf and nothing is shared between Loads.
type run struct {
	opts        Options
	fileVars    map[string]starlark.Value // from opts.VarFiles
	root        *os.Root
	predeclared starlark.StringDict
	cfg         *spec.Config

	diags  spec.Diagnostics
	strict int // > 0: report returns problems as errors (inside assert.fails)

	modules    map[string]*module // by path relative to Dir
	loading    []string           // files being executed, outermost first
	callStarts map[string]map[lineCol]lineCol

	resources      map[string]spec.Pos      // address → where first declared
	outputs        map[string]spec.Pos      // name → where first declared
	machines       map[string]spec.Pos      // address → where first declared
	providers      map[string]spec.Pos      // provider configuration key → where first declared
	providerTypes  map[string]*providerType // providers that take a configuration, by name
	resourceTypes  map[string]*resourceType // by type: machine(target = aws.ec2(...)) declares an aws.instance
	deploymentPos  spec.Pos
	deploymentSeen bool

	defaultModules []*moduleValue // from defaults(), given to every machine
	defaultsPos    spec.Pos
	defaultsSeen   bool
	// defaultTransfer is defaults(transfer = ...), for machines without
	// their own.
	defaultTransfer *spec.Transfer
	nixpkgsPos      spec.Pos
	nixpkgsSeen     bool

	// Where systems are built (build.go): defaults(build, build_host), and
	// the machines that chose their own, by address.
	defaultBuild  buildChoice
	machineBuilds map[string]bool

	nixFiles   map[string]nixFile // what nix.module() found, by path relative to Dir
	hashedDirs map[string]bool    // directories whose *.nix files are hashed

	stepLimitHit bool
}

// module is one loaded file: its globals once executed, or the fact that
// it failed (its problems are already in run.diags).
type module struct {
	globals starlark.StringDict
	failed  bool
	done    bool
}

// reportedError is returned up the Starlark stack once a problem has been
// recorded in run.diags, so that callers do not record it again.
type reportedError struct{}

func (reportedError) Error() string { return "configuration has errors" }

// newRun prepares a Load. extra adds builtin modules (tests add assert).
func newRun(opts Options, extra []builtinModule) (*run, error) {
	opts, err := normalize(opts)
	if err != nil {
		return nil, err
	}
	r := &run{
		opts: opts,
		cfg: &spec.Config{
			Dir: opts.Dir,
			Inputs: spec.Inputs{
				Files: map[string]string{},
				Vars:  map[string]string{},
			},
		},
		modules:    map[string]*module{},
		callStarts: map[string]map[lineCol]lineCol{},
		resources:  map[string]spec.Pos{},
		outputs:    map[string]spec.Pos{},
		machines:   map[string]spec.Pos{},
		providers:  map[string]spec.Pos{},
		nixFiles:   map[string]nixFile{},
		hashedDirs: map[string]bool{},
	}
	if r.fileVars, err = readVarFiles(opts.VarFiles); err != nil {
		return nil, err
	}
	r.predeclared, err = r.buildPredeclared(extra)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// runOf returns the run a builtin was called in.
func runOf(thread *starlark.Thread) *run {
	r, ok := thread.Local(runKey).(*run)
	if !ok {
		// Only reachable if a builtin escaped into another interpreter.
		panic("lang: builtin called outside of lang.Load")
	}
	return r
}

// report records a problem that does not stop evaluation. It returns an
// error when evaluation must stop anyway: inside assert.fails (so that the
// test can see it), or when there are too many problems already.
func (r *run) report(d *spec.Diagnostic) error {
	if r.strict > 0 {
		return d
	}
	r.diags = append(r.diags, d)
	if len(r.diags) >= maxDiagnostics {
		r.diags = append(r.diags, &spec.Diagnostic{
			Summary: fmt.Sprintf("too many errors (%d): fix these first", len(r.diags)),
		})
		return reportedError{}
	}
	return nil
}
