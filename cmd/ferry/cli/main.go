package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"
	"golang.org/x/term"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/providers"

	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/memblob"
	_ "gocloud.dev/blob/s3blob"
)

// Version is ferry's version, set at build time with -ldflags.
var Version = "0.1.0-dev"

// IO is the process's standard streams and environment.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	LookupEnv      func(string) (string, bool)
	// Interactive reports whether stdin and stdout are terminals.
	Interactive bool
	// Width is the terminal's width in columns (0: not known).
	Width int
}

// StdIO returns the real process streams.
func StdIO() IO {
	io := IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, LookupEnv: os.LookupEnv, Interactive: isTerminal(os.Stdout) && isTerminal(os.Stdin)}
	if io.Interactive {
		if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
			io.Width = w
		}
	}
	return io
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// ExitError carries an exit status other than 1.
type ExitError struct {
	Code int
	Err  error // may be nil: nothing to print
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Main runs ferry with args and returns the process exit status: 0 success,
// 1 error, 2 changes present (plan --detailed-exitcode).
func Main(ctx context.Context, args []string, stdio IO) int {
	return MainWith(ctx, args, stdio, Options{})
}

// Options add to what Main wires: tests register providers/fakecloud.
type Options struct {
	Providers []providers.Provider
}

// MainWith is Main with opts.
func MainWith(ctx context.Context, args []string, stdio IO, opts Options) int {
	var root CLI
	parser, err := kong.New(&root, append(parserOptions(),
		kong.Name("ferry"),
		kong.Description("Deploy fleets of NixOS machines: plan, review, apply."),
		kong.UsageOnError(),
		kong.Writers(stdio.Stdout, stdio.Stderr),
		kong.Exit(func(code int) { panic(exitPanic(code)) }),
	)...)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "ferry: %v\n", err)
		return 1
	}
	code := func() (code int) {
		defer func() {
			if r := recover(); r != nil {
				if c, ok := r.(exitPanic); ok {
					code = int(c)
					return
				}
				panic(r)
			}
		}()
		kctx, err := parser.Parse(longSingleDash(parser.Model, args))
		if err != nil {
			fmt.Fprintf(stdio.Stderr, "ferry: %v\n", err)
			return 1
		}
		// First interrupt: stop starting work, let running work finish and
		// be recorded. Second: abort running work too.
		runCtx, stop := context.WithCancel(ctx)
		opCtx, abort := context.WithCancel(context.WithoutCancel(ctx))
		defer stop()
		defer abort()
		sigs := make(chan os.Signal, 2)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sigs)
		go func() {
			n := 0
			for range sigs {
				n++
				if n == 1 {
					fmt.Fprintln(stdio.Stderr, "ferry: interrupted: finishing running operations and recording them (interrupt again to abort them)")
					stop()
				} else {
					abort()
				}
			}
		}()
		app := &App{IO: stdio, Globals: &root.Globals, ctx: runCtx, opCtx: opCtx, extraProviders: opts.Providers}
		err = kctx.Run(app)
		if err == nil {
			return 0
		}
		var ee *ExitError
		if errors.As(err, &ee) {
			if ee.Err != nil {
				fmt.Fprintf(stdio.Stderr, "Error: %v\n", ee.Err)
			}
			return ee.Code
		}
		fmt.Fprintf(stdio.Stderr, "Error: %v\n", err)
		return 1
	}()
	return code
}

type exitPanic int

// parserOptions are what parsing ferry's command line needs: the version,
// the concurrency limits' defaults and help as variables (engine/limits.go
// holds them: flags say default:"${parallelism_default}"), and the flag
// group that shows the limits together.
func parserOptions() []kong.Option {
	return []kong.Option{
		kong.Vars{"version": Version},
		kong.Vars(engine.LimitVars()),
		kong.ExplicitGroups([]kong.Group{{Key: "limits", Title: "Concurrency limits"}}),
	}
}
