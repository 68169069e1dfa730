package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/nixferry/ferry/cmd/ferry/cli"
	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/aws/awstest"
	"github.com/nixferry/ferry/providers/fakecloud"
	"github.com/nixferry/ferry/providers/nix/nixtest"
)

// update rewrites the expected output that scripts compare with `cmp`:
//
//	go test ./cmd/ferry -run TestScripts -update
//
// Review the diff before committing it: the scripts are ferry's documented
// behaviour.
var update = flag.Bool("update", false, "rewrite the expected files of testdata/script/*.txtar from the actual output")

// TestMain makes this test binary double as ferry: testscript installs a
// copy named "ferry" on PATH, and running it runs cli.Main exactly as
// main.go does. Each `ferry` in a script is therefore a real process, with
// its own signals, exit status and locks, like the released binary. The
// tests run through awstest.Main, which stops the moto server that the
// tests on AWS start.
func TestMain(m *testing.M) {
	testscript.Main(motoMain{m}, map[string]func(){
		// The test binary's ferry also has the fake cloud provider
		// (providers/fakecloud), for scripts of the provider contract.
		"ferry": func() {
			os.Exit(cli.MainWith(context.Background(), os.Args[1:], cli.StdIO(), cli.Options{Providers: []providers.Provider{fakecloud.New()}}))
		},
	})
}

// motoMain runs the tests through awstest.Main.
type motoMain struct{ m *testing.M }

func (m motoMain) Run() int { return awstest.Main(m.m) }

// TestScripts runs the end-to-end scripts in testdata/script: each .txtar
// archive holds a configuration, the ferry commands a user types, and what
// ferry must print. They double as documentation of the CLI.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                "testdata/script",
		UpdateScripts:      *update,
		RequireUniqueNames: true,
		Setup: func(e *testscript.Env) error {
			// Only what a script sets: no state URL, colors or AWS profile
			// of the machine running the tests.
			e.Setenv("NO_COLOR", "1")
			e.Setenv("FERRY_SSH_CONFIG", "none") // never the machine's ~/.ssh/config
			e.Setenv("AWS_CONFIG_FILE", os.DevNull)
			e.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
			e.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			// For scripts that evaluate Nix: NIX_PATH=nixpkgs=$STUB_NIXPKGS.
			e.Setenv("STUB_NIXPKGS", nixtest.NixpkgsPath())
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitcode,
			"waitfile": cmdWaitfile,
			"replace":  cmdReplace,
			"maskplan": cmdMaskPlan,
		},
	})
}

// cmdExitcode runs a command and checks its exit status:
//
//	exitcode 2 ferry plan --detailed-exitcode
//
// Unlike `! exec`, it tells an error (1) from a crash (2, with a Go panic)
// or "changes present" (2 with --detailed-exitcode).
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %q is not a number", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("exitcode: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// cmdWaitfile waits until a non-empty file matches each glob, e.g. the lock
// of a ferry running in the background, or the first record of its journal
// (whose file exists, empty, a moment before), for up to a minute: a
// generous deadline, so that a busy machine passes.
//
//	waitfile .ferry/demo/lock.json
func cmdWaitfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: waitfile GLOB...")
	}
	const within = time.Minute
	deadline := time.Now().Add(within)
	for _, glob := range args {
		for {
			matches, err := filepath.Glob(ts.MkAbs(glob))
			ts.Check(err)
			if slices.ContainsFunc(matches, nonEmpty) {
				break
			}
			if time.Now().After(deadline) {
				ts.Fatalf("waitfile: nothing matches %s after %v", glob, within)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func nonEmpty(name string) bool {
	st, err := os.Stat(name)
	return err == nil && st.Size() > 0
}

// cmdReplace rewrites every match of a regular expression in a file, to
// mask what changes from run to run (times, random IDs) before a `cmp`:
//
//	replace plan.json '"created_at": "[^"]*"' '"created_at": "TIME"'
func cmdReplace(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: replace FILE REGEXP REPLACEMENT")
	}
	re, err := regexp.Compile(args[1])
	ts.Check(err)
	name := ts.MkAbs(args[0])
	data, err := os.ReadFile(name)
	ts.Check(err)
	if !re.Match(data) {
		ts.Fatalf("replace: %s has no match for %s", args[0], args[1])
	}
	ts.Check(os.WriteFile(name, re.ReplaceAll(data, []byte(args[2])), 0o666))
}

// Masks of what differs between two plans of the same configuration and
// state: the creation time, and what the deployment's random plan key
// decides (the signature, the keyed var digests and the inputs digest
// over them).
var (
	planTimeRe      = regexp.MustCompile(`"created_at": "[^"]*"`)
	planSignatureRe = regexp.MustCompile(`"signature": "hmac-sha256:[0-9a-f]{64}"`)
	planDigestRe    = regexp.MustCompile(`"digest": "sha256:[0-9a-f]{64}"`)
	planVarsRe      = regexp.MustCompile(`"vars": \{[^}]*\}`)
	hex64Re         = regexp.MustCompile(`"[0-9a-f]{64}"`)
)

// cmdMaskPlan masks, in a plan file, what changes from plan to plan of
// the same configuration and state, so that plans can be compared with
// `cmp`:
//
//	maskplan plan.json
func cmdMaskPlan(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: maskplan FILE")
	}
	name := ts.MkAbs(args[0])
	data, err := os.ReadFile(name)
	ts.Check(err)
	data = planTimeRe.ReplaceAll(data, []byte(`"created_at": "TIME"`))
	data = planSignatureRe.ReplaceAll(data, []byte(`"signature": "SIGNATURE"`))
	data = planDigestRe.ReplaceAll(data, []byte(`"digest": "DIGEST"`))
	data = planVarsRe.ReplaceAllFunc(data, func(b []byte) []byte { return hex64Re.ReplaceAll(b, []byte(`"KEYED-DIGEST"`)) })
	ts.Check(os.WriteFile(name, data, 0o666))
}
