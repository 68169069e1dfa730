package lang

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/nixferry/ferry/engine/spec"
)

// The Starlark behaviour tests live in testdata:
//
//   - testdata/*.star are loaded one by one (with testdata as the
//     configuration directory, so they can load testdata/lib/...) and must
//     load without error. They check themselves with the assert module:
//     assert.eq(got, want), assert.true(cond, msg = ""),
//     assert.fails(fn, "regexp").
//   - testdata/errors/*.star are split into chunks at lines that are
//     exactly "---". Each chunk is loaded on its own as ferry.star (with
//     blank lines in front, so line numbers are those of the whole file).
//     A line with a comment "### regexp" expects an error at that line
//     whose message matches regexp; a chunk may expect several errors (on
//     different lines, or on one line as "### re1 ### re2"), and every
//     error must be expected.
//
// Both see the test schemas and providers, --var region=eu-west-1 and the
// environment FERRY_VAR_zone=b.

func starlarkTestOptions(dir, file string) Options {
	return Options{
		Dir:       dir,
		File:      file,
		Schemas:   testSchemas(),
		Providers: testProviders(),
		Vars:      map[string]string{"region": "eu-west-1"},
		LookupEnv: env(map[string]string{"FERRY_VAR_zone": "b"}),
		Print:     func(spec.Pos, string) {},
	}
}

func TestStarlark(t *testing.T) {
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.star"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.star files (%v)", err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			r, err := newRun(starlarkTestOptions(dir, name), []builtinModule{assertModule()})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.load(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestStarlarkErrors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "errors", "*.star"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/errors/*.star files (%v)", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range splitChunks(string(data)) {
			t.Run(fmt.Sprintf("%s:%d", filepath.Base(file), c.line), func(t *testing.T) {
				dir := writeFiles(t, map[string]string{"ferry.star": c.src})
				_, err := Load(context.Background(), starlarkTestOptions(dir, ""))
				checkExpectedErrors(t, c, err)
			})
		}
	}
}

// chunk is one independently loaded part of an errors file.
type chunk struct {
	line   int                      // first line in the file
	src    string                   // padded so that line numbers match the file
	expect map[int][]*regexp.Regexp // by line
}

func splitChunks(data string) []chunk {
	var chunks []chunk
	lines := strings.Split(data, "\n")
	start := 0
	flush := func(end int) {
		c := chunk{line: start + 1, expect: map[int][]*regexp.Regexp{}}
		c.src = strings.Repeat("\n", start) + strings.Join(lines[start:end], "\n") + "\n"
		for i := start; i < end; i++ {
			if _, text, ok := strings.Cut(lines[i], "###"); ok {
				for _, re := range strings.Split(text, "###") {
					c.expect[i+1] = append(c.expect[i+1], regexp.MustCompile(strings.TrimSpace(re)))
				}
			}
		}
		chunks = append(chunks, c)
	}
	for i, l := range lines {
		if l == "---" {
			flush(i)
			start = i + 1
		}
	}
	flush(len(lines))
	return chunks
}

func checkExpectedErrors(t *testing.T, c chunk, err error) {
	t.Helper()
	var diags spec.Diagnostics
	var d *spec.Diagnostic
	switch {
	case err == nil:
	case errors.As(err, &diags):
	case errors.As(err, &d):
		diags = spec.Diagnostics{d}
	default:
		t.Fatalf("error is a %T, want diagnostics: %v", err, err)
	}
	for _, d := range diags {
		matched := false
		for i, re := range c.expect[d.Pos.Line] {
			if re != nil && re.MatchString(d.Summary) {
				c.expect[d.Pos.Line][i] = nil
				matched = true
				break
			}
		}
		if !matched {
			t.Errorf("unexpected error: %v", d)
		}
	}
	for line, res := range c.expect {
		for _, re := range res {
			if re != nil {
				t.Errorf("line %d: no error matching %q", line, re)
			}
		}
	}
}

// assertModule is the test-only assert module of testdata/*.star.
func assertModule() builtinModule {
	return builtinModule{name: "assert (tests)", members: func(*run) (starlark.StringDict, error) {
		return starlark.StringDict{"assert": &starlarkstruct.Module{Name: "assert", Members: starlark.StringDict{
			"eq":    starlark.NewBuiltin("assert.eq", assertEq),
			"true":  starlark.NewBuiltin("assert.true", assertTrue),
			"fails": starlark.NewBuiltin("assert.fails", assertFails),
		}}}, nil
	}}
}

func assertEq(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var got, want starlark.Value
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 2, &got, &want); err != nil {
		return nil, err
	}
	eq, err := starlark.Equal(got, want)
	if err != nil {
		return nil, err
	}
	if !eq {
		return nil, fmt.Errorf("assert.eq: got %s, want %s", got, want)
	}
	return starlark.None, nil
}

func assertTrue(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var cond starlark.Value
	msg := "assertion failed"
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "cond", &cond, "msg?", &msg); err != nil {
		return nil, err
	}
	if !cond.Truth() {
		return nil, fmt.Errorf("assert.true: %s", msg)
	}
	return starlark.None, nil
}

// assertFails calls fn and checks that it fails with an error matching
// pattern. Problems that a run would only collect are returned as errors
// while fn runs, so they can be checked here.
func assertFails(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var fn starlark.Callable
	var pattern string
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 2, &fn, &pattern); err != nil {
		return nil, err
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("assert.fails: %v", err)
	}
	r := runOf(thread)
	r.strict++
	_, err = starlark.Call(thread, fn, nil, nil)
	r.strict--
	if err == nil {
		return nil, fmt.Errorf("assert.fails: %s succeeded, want an error matching %q", fn.Name(), pattern)
	}
	if !re.MatchString(err.Error()) {
		return nil, fmt.Errorf("assert.fails: error %q does not match %q", err.Error(), pattern)
	}
	return starlark.None, nil
}
