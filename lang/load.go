package lang

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/nixferry/ferry/engine/spec"
)

// DefaultFile is the entry file loaded when Options.File is empty.
const DefaultFile = "ferry.star"

// DefaultMaxSteps is the Starlark step limit used when Options.MaxSteps is
// zero: large enough for configurations declaring tens of thousands of
// resources, small enough to stop an endless loop within seconds.
const DefaultMaxSteps = 100_000_000

// Options says what to load and what the configuration may see.
type Options struct {
	// Dir is the absolute configuration directory. Positions in
	// diagnostics and the keys of Config.Inputs.Files are relative to it,
	// and no load() may leave it.
	Dir string
	// File is the entry file relative to Dir (an absolute path inside Dir
	// is accepted); DefaultFile when empty.
	File string
	// Vars holds the values passed as --var name=value.
	Vars map[string]string
	// VarFiles are --var-file files (var_file.go), later ones winning,
	// read before Vars and after FERRY_VAR_<name>: --var overrides them.
	// Relative paths are relative to the working directory.
	VarFiles []string
	// LookupEnv looks up FERRY_VAR_<name> for var(); nil means no
	// environment.
	LookupEnv func(string) (string, bool)
	// Schemas are the resource types to expose: type "null.resource"
	// becomes the builtin null.resource(name, **attrs).
	Schemas []spec.Schema
	// Providers describes the providers of those types. One with a
	// Config offers NAME.provider(alias = None, **config), whose value
	// its resources take as provider = ...; a provider not listed, or
	// listed without a Config, takes no configuration.
	Providers []ProviderSchema
	// MaxSteps bounds Starlark execution; DefaultMaxSteps when zero.
	MaxSteps uint64
	// Print receives the output of print(); nil writes
	// "file:line:col: message" lines to standard error.
	Print func(pos spec.Pos, msg string)
	// EvalNix evaluates a Nix expression at load time and returns its
	// value as JSON (nix-instantiate --eval --strict --json); builtins
	// that read Nix files (nixops.network, colmena.hive) need it. The
	// expression may use ferryModules and deploymentReport (see
	// providers/nix Nix.EvalJSON, which the CLI wires here). nil: those
	// builtins fail, saying Nix is needed.
	EvalNix func(expr string) ([]byte, error)
}

// dialect is the Starlark dialect of ferry files: configurations generate
// resources in loops and functions, so top-level control flow, while,
// set and global reassignment are allowed.
func dialect() *syntax.FileOptions {
	return &syntax.FileOptions{
		Set:             true,
		While:           true,
		TopLevelControl: true,
		GlobalReassign:  true,
	}
}

// Load evaluates the configuration described by opts. Problems in the
// configuration are returned as *spec.Diagnostic or spec.Diagnostics with
// positions relative to opts.Dir; invalid options and a cancelled ctx are
// plain errors.
func Load(ctx context.Context, opts Options) (*spec.Config, error) {
	r, err := newRun(opts, nil)
	if err != nil {
		return nil, err
	}
	return r.load(ctx)
}

// normalize checks opts and fills in defaults. Errors here are mistakes of
// the caller, not of the configuration.
func normalize(opts Options) (Options, error) {
	if opts.Dir == "" || !filepath.IsAbs(opts.Dir) {
		return opts, fmt.Errorf("lang: configuration directory %q must be an absolute path", opts.Dir)
	}
	opts.Dir = filepath.Clean(opts.Dir)
	if opts.File == "" {
		opts.File = DefaultFile
	}
	if filepath.IsAbs(opts.File) {
		rel, err := filepath.Rel(opts.Dir, opts.File)
		if err != nil {
			return opts, fmt.Errorf("lang: entry file %s: %w", opts.File, err)
		}
		opts.File = rel
	}
	file, err := cleanRel(filepath.ToSlash(opts.File))
	if err != nil {
		return opts, fmt.Errorf("lang: entry file %q: %w", opts.File, err)
	}
	opts.File = file
	if opts.MaxSteps == 0 {
		opts.MaxSteps = DefaultMaxSteps
	}
	if opts.Print == nil {
		opts.Print = func(pos spec.Pos, msg string) { fmt.Fprintf(os.Stderr, "%s: %s\n", pos, msg) }
	}
	return opts, nil
}

// load runs the entry file and returns the configuration it declared.
func (r *run) load(ctx context.Context) (*spec.Config, error) {
	root, err := os.OpenRoot(r.opts.Dir)
	if err != nil {
		return nil, &spec.Diagnostic{Summary: fmt.Sprintf("open configuration directory: %v", err)}
	}
	defer root.Close()
	r.root = root

	thread := &starlark.Thread{
		Name: "ferry " + r.opts.File,
		Load: r.loadModule,
		Print: func(thread *starlark.Thread, msg string) {
			r.opts.Print(r.callerPos(thread, 0), msg)
		},
		OnMaxSteps: func(thread *starlark.Thread) {
			r.stepLimitHit = true
			thread.Cancel("step limit reached")
		},
	}
	thread.SetMaxExecutionSteps(r.opts.MaxSteps)
	thread.SetLocal(runKey, r)
	stop := context.AfterFunc(ctx, func() { thread.Cancel(context.Cause(ctx).Error()) })
	defer stop()

	src, err := root.ReadFile(r.opts.File)
	if err != nil {
		summary := fmt.Sprintf("read %s: %v", r.opts.File, err)
		if errors.Is(err, os.ErrNotExist) {
			summary = fmt.Sprintf("configuration file %s not found in %s: create it, or name another entry file", r.opts.File, r.opts.Dir)
		}
		return nil, &spec.Diagnostic{Summary: summary}
	}
	r.execModule(thread, r.opts.File, src)
	r.finishMachines()
	if len(r.diags) == 0 { // else evaluation may have stopped before a declaration
		r.finishProviders()
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load %s: %w", r.opts.File, context.Cause(ctx))
	}
	if err := r.diags.Err(); err != nil {
		return nil, err
	}
	return r.cfg, nil
}
