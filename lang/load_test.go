package lang

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/spec"
)

// writeFiles writes files (slash paths relative to the directory) into a
// fresh temporary directory and returns it.
func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadConfig(t *testing.T) {
	main := `deployment("staging", description = "two nulls and a file")
load("//lib/names.star", "prefix")
load("./lib/sleep.star", "pause")
region = var("region")
zone = var("zone")
size = var("size", default = 3)
tier = var("tier", default = "gold")
a = null.resource("a", triggers = {"region": region, "size": size})
b = null.resource(
    name = prefix + "b",
    triggers = {"dep": a.id, "v": a.triggers["region"], "list": [a.id, 1.5, None, True]},
)
s = pause(b)
f = local.file("f", path = "/tmp/f", content = tier)
output("ids", [a.id, b.id])
output("zone", zone)
`
	names := `prefix = "x-"
load("sleep.star", "pause") # the same file as ./lib/sleep.star, executed once
`
	sleep := `def pause(dep):
    return time.sleep("s", duration = "1s", triggers = {"after": dep.id})
`
	dir := writeFiles(t, map[string]string{
		"ferry.star":     main,
		"lib/names.star": names,
		"lib/sleep.star": sleep,
	})
	cfg, err := Load(context.Background(), Options{
		Dir:       dir,
		Vars:      map[string]string{"region": "eu-west-1"},
		LookupEnv: env(map[string]string{"FERRY_VAR_zone": "b", "FERRY_VAR_region": "ignored"}),
		Schemas:   testSchemas(),
	})
	if err != nil {
		t.Fatal(err)
	}
	aID := spec.Ref{Addr: "null.resource.a", Attr: "id"}
	want := &spec.Config{
		Deployment:  "staging",
		Description: "two nulls and a file",
		Dir:         dir,
		Resources: []*spec.Resource{
			{
				Addr: "null.resource.a", Type: "null.resource", Name: "a",
				Args: map[string]any{"triggers": map[string]any{"region": "eu-west-1", "size": json.Number("3")}},
				Pos:  spec.Pos{File: "ferry.star", Line: 8, Col: 5},
			},
			{
				Addr: "null.resource.x-b", Type: "null.resource", Name: "x-b",
				Args: map[string]any{"triggers": map[string]any{
					"dep":  aID,
					"v":    spec.Ref{Addr: "null.resource.a", Attr: "triggers.region"},
					"list": []any{aID, json.Number("1.5"), nil, true},
				}},
				Pos: spec.Pos{File: "ferry.star", Line: 9, Col: 5},
			},
			{
				Addr: "time.sleep.s", Type: "time.sleep", Name: "s",
				Args: map[string]any{
					"duration": "1s",
					"triggers": map[string]any{"after": spec.Ref{Addr: "null.resource.x-b", Attr: "id"}},
				},
				Pos: spec.Pos{File: "lib/sleep.star", Line: 2, Col: 12},
			},
			{
				Addr: "local.file.f", Type: "local.file", Name: "f",
				Args: map[string]any{"path": "/tmp/f", "content": "gold", "mode": "0644"},
				Pos:  spec.Pos{File: "ferry.star", Line: 14, Col: 5},
			},
		},
		Outputs: []*spec.Output{
			{Name: "ids", Value: []any{aID, spec.Ref{Addr: "null.resource.x-b", Attr: "id"}}, Pos: spec.Pos{File: "ferry.star", Line: 15, Col: 1}},
			{Name: "zone", Value: "b", Pos: spec.Pos{File: "ferry.star", Line: 16, Col: 1}},
		},
		Inputs: spec.Inputs{
			Files: map[string]string{
				"ferry.star":     sha(main),
				"lib/names.star": sha(names),
				"lib/sleep.star": sha(sleep),
			},
			Vars: map[string]string{"region": "eu-west-1", "zone": "b", "size": "3", "tier": "gold"},
		},
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

func TestLoadDefaults(t *testing.T) {
	dir := writeFiles(t, map[string]string{"ferry.star": `
a = null.resource("a")
b = null.resource("b")
s = time.sleep("s", triggers = None)
n = var("n", default = None)
l = var("l", default = {"k": [1, a.id]})
`})
	cfg, err := Load(context.Background(), Options{Dir: dir, Schemas: testSchemas()})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]any{}
	for _, r := range cfg.Resources {
		got[r.Addr] = r.Args
	}
	want := map[string]map[string]any{
		"null.resource.a": {"triggers": map[string]any{}},
		"null.resource.b": {"triggers": map[string]any{}},
		"time.sleep.s":    {"duration": "50ms"}, // triggers=None means not set, and it has no default
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
	// Each resource gets its own copy of a default.
	got["null.resource.a"]["triggers"].(map[string]any)["x"] = "y"
	if len(got["null.resource.b"]["triggers"].(map[string]any)) != 0 {
		t.Error("resources share one default map")
	}
	wantVars := map[string]string{"n": "null", "l": `{"k":[1,{"$ref":"null.resource.a.id"}]}`}
	if diff := cmp.Diff(wantVars, cfg.Inputs.Vars); diff != "" {
		t.Errorf("vars (-want +got):\n%s", diff)
	}
	if cfg.Deployment != "" || cfg.Outputs != nil {
		t.Errorf("deployment %q, outputs %v; want none", cfg.Deployment, cfg.Outputs)
	}
}

func TestLoadEntryFile(t *testing.T) {
	files := map[string]string{
		"sub/main.star": `load("../lib.star", "n")
null.resource(n)
`,
		"lib.star": `n = "from-lib"`,
	}
	for _, file := range []string{"sub/main.star", "./sub/../sub/main.star", "ABS"} {
		t.Run(file, func(t *testing.T) {
			dir := writeFiles(t, files)
			if file == "ABS" {
				file = filepath.Join(dir, "sub", "main.star")
			}
			cfg, err := Load(context.Background(), Options{Dir: dir, File: file, Schemas: testSchemas()})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := cfg.Resources[0].Pos.String(), "sub/main.star:2:1"; got != want {
				t.Errorf("pos = %s, want %s", got, want)
			}
			if diff := cmp.Diff([]string{"lib.star", "sub/main.star"}, keys(cfg.Inputs.Files)); diff != "" {
				t.Errorf("input files (-want +got):\n%s", diff)
			}
		})
	}
}

func keys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// TestLoadErrors checks the exact text of configuration errors. $DIR in
// want stands for the configuration directory.
func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		opts  Options
		want  string
	}{
		{
			name:  "missing entry file",
			files: map[string]string{"other.star": ""},
			want:  "configuration file ferry.star not found in $DIR: create it, or name another entry file",
		},
		{
			name:  "syntax error",
			files: map[string]string{"ferry.star": "a = null.resource(\"a\"\nb = 1\n"},
			want:  "ferry.star:2:2: got identifier, want ','",
		},
		{
			name:  "all undefined names",
			files: map[string]string{"ferry.star": "a = nul.resource(\"a\")\nb = outptu(\"x\", 1)\n"},
			want: "ferry.star:1:5: undefined: nul (did you mean null?)\n" +
				"ferry.star:2:5: undefined: outptu (did you mean output?)",
		},
		{
			name:  "load missing file",
			files: map[string]string{"ferry.star": "x = 1\nload(\"./lib/none.star\", \"a\")\n"},
			want:  `ferry.star:2:1: cannot load "./lib/none.star": lib/none.star does not exist`,
		},
		{
			name: "load missing file from a loaded file",
			files: map[string]string{
				"ferry.star": "load(\"//lib/a.star\", \"a\")\n",
				"lib/a.star": "load(\"b.star\", \"b\")\na = 1\n",
			},
			want: `lib/a.star:1:1: cannot load "b.star": lib/b.star does not exist`,
		},
		{
			name: "load cycle",
			files: map[string]string{
				"ferry.star": "load(\"a.star\", \"a\")\n",
				"a.star":     "\n\nload(\"//ferry.star\", \"x\")\na = 1\n",
			},
			want: "a.star:3:1: load cycle: ferry.star -> a.star -> ferry.star",
		},
		{
			name: "load cycle not through the entry file",
			files: map[string]string{
				"ferry.star": "load(\"a.star\", \"a\")\n",
				"a.star":     "load(\"lib/b.star\", \"b\")\na = 1\n",
				"lib/b.star": "load(\"../a.star\", \"a\")\nb = 1\n",
			},
			want: "lib/b.star:1:1: load cycle: a.star -> lib/b.star -> a.star",
		},
		{
			name:  "load escapes the directory",
			files: map[string]string{"ferry.star": "load(\"../outside.star\", \"a\")\n"},
			want:  `ferry.star:1:1: cannot load "../outside.star": the path escapes the configuration directory`,
		},
		{
			name:  "load rooted path escapes the directory",
			files: map[string]string{"ferry.star": "load(\"//lib/../../x.star\", \"a\")\n"},
			want:  `ferry.star:1:1: cannot load "//lib/../../x.star": the path escapes the configuration directory`,
		},
		{
			name:  "load absolute path",
			files: map[string]string{"ferry.star": "load(\"/etc/x.star\", \"a\")\n"},
			want:  `ferry.star:1:1: cannot load "/etc/x.star": absolute paths are not allowed: write "//path" for a path from the configuration directory`,
		},
		{
			name: "load unknown name",
			files: map[string]string{
				"ferry.star": "load(\"lib.star\", \"helpr\")\n",
				"lib.star":   "helper = 1\n",
			},
			want: "ferry.star:1:1: load: name helpr not found in module lib.star (did you mean helper?)",
		},
		{
			name: "error inside a loaded file",
			files: map[string]string{
				"ferry.star": "load(\"//lib/x.star\", \"a\")\n",
				"lib/x.star": "a = 1\nb = a + \"s\"\n",
			},
			want: "lib/x.star:2:7: unknown binary op: int + string",
		},
		{
			name: "error inside a function shows the calls",
			files: map[string]string{
				"ferry.star": "load(\"//lib/x.star\", \"make\")\n\nmake(2)\n",
				"lib/x.star": "def make(n):\n    for i in range(n):\n        one(i)\n\ndef one(i):\n    null.resource(\"n\", trigers = {})\n",
			},
			want: "lib/x.star:6:5: null.resource: unexpected argument \"trigers\" (did you mean \"triggers\"?)\n" +
				"  called from lib/x.star:3:9 in make\n" +
				"  called from ferry.star:3:1\n" +
				"lib/x.star:6:5: null.resource: unexpected argument \"trigers\" (did you mean \"triggers\"?)\n" +
				"  called from lib/x.star:3:9 in make\n" +
				"  called from ferry.star:3:1\n" +
				"lib/x.star:6:5: duplicate resource null.resource.n (first declared at lib/x.star:6:5)\n" +
				"  called from lib/x.star:3:9 in make\n" +
				"  called from ferry.star:3:1",
		},
		{
			name:  "deployment twice",
			files: map[string]string{"ferry.star": "deployment(\"a\")\n\ndeployment(name = \"b\")\n"},
			want:  "ferry.star:3:1: deployment() is called a second time; the first call is at ferry.star:1:1: call it once",
		},
		{
			name:  "deployment bad name",
			files: map[string]string{"ferry.star": "deployment(\"a b\")\n"},
			want:  `ferry.star:1:1: deployment: invalid name "a b": use letters, digits, "_", "-" and "." (not first)`,
		},
		{
			name:  "deployment missing name",
			files: map[string]string{"ferry.star": "deployment(description = \"x\")\n"},
			want:  "ferry.star:1:1: deployment: missing argument for name",
		},
		{
			name:  "var not set",
			files: map[string]string{"ferry.star": "r = var(\"region\")\n"},
			opts:  Options{LookupEnv: env(map[string]string{"FERRY_VAR_other": "x"})},
			want:  `ferry.star:1:5: var "region" is not set: pass --var region=VALUE or set FERRY_VAR_region`,
		},
		{
			name:  "var not set and no environment",
			files: map[string]string{"ferry.star": "r = var(\"region\")\n"},
			opts:  Options{LookupEnv: nil, Vars: map[string]string{"Region": "x"}},
			want:  `ferry.star:1:5: var "region" is not set: pass --var region=VALUE or set FERRY_VAR_region`,
		},
		{
			name:  "var bad name",
			files: map[string]string{"ferry.star": "r = var(\"a-b\")\n"},
			want:  `ferry.star:1:5: var: invalid name "a-b": use letters, digits and "_", not starting with a digit`,
		},
		{
			name:  "var default not a value",
			files: map[string]string{"ferry.star": "r = var(\"a\", default = {\"f\": len})\n"},
			want:  `ferry.star:1:5: var "a": default["f"]: got builtin_function_or_method; want None, bool, int, float, string, list, tuple, dict, a reference such as a.id or a format() value`,
		},
		{
			name:  "unexpected argument",
			files: map[string]string{"ferry.star": "null.resource(\"a\", trigers = {})\n"},
			want:  `ferry.star:1:1: null.resource: unexpected argument "trigers" (did you mean "triggers"?)`,
		},
		{
			name:  "unexpected argument without suggestion",
			files: map[string]string{"ferry.star": "null.resource(\"a\", colour = \"red\")\n"},
			want:  `ferry.star:1:1: null.resource: unexpected argument "colour"`,
		},
		{
			name:  "missing required arguments",
			files: map[string]string{"ferry.star": "f = local.file(\"f\", path = None)\n"},
			want: "ferry.star:1:5: local.file: missing required argument \"path\"\n" +
				"ferry.star:1:5: local.file: missing required argument \"content\"",
		},
		{
			name:  "missing name",
			files: map[string]string{"ferry.star": "null.resource(triggers = {})\n"},
			want:  `ferry.star:1:1: null.resource: missing required argument "name"`,
		},
		{
			name:  "name twice",
			files: map[string]string{"ferry.star": "null.resource(\"a\", name = \"b\")\n"},
			want:  `ferry.star:1:1: null.resource: got two values for argument "name"`,
		},
		{
			name:  "name not a string",
			files: map[string]string{"ferry.star": "null.resource(1)\n"},
			want:  `ferry.star:1:1: null.resource: argument "name": got int, want string`,
		},
		{
			name:  "invalid name",
			files: map[string]string{"ferry.star": "null.resource(\"a.b\")\nnull.resource(\"\")\n"},
			want: "ferry.star:1:1: null.resource: invalid name \"a.b\": use letters, digits, \"_\" and \"-\"\n" +
				"ferry.star:2:1: null.resource: invalid name \"\": use letters, digits, \"_\" and \"-\"",
		},
		{
			name:  "positional attributes",
			files: map[string]string{"ferry.star": "null.resource(\"a\", {})\n"},
			want:  `ferry.star:1:1: null.resource: got 2 positional arguments: pass only the name positionally and attributes by keyword`,
		},
		{
			name:  "wrong type",
			files: map[string]string{"ferry.star": "null.resource(\"a\", triggers = \"x\")\n"},
			want:  `ferry.star:1:1: null.resource: argument "triggers": got string, want dict`,
		},
		{
			name: "wrong types per kind",
			files: map[string]string{"ferry.star": `local.file("f", path = 1, content = True, mode = None)
time.sleep("s", duration = 5)
time.sleep("t", duration = "5 minutes")
`},
			want: "ferry.star:1:1: local.file: argument \"path\": got int, want string\n" +
				"ferry.star:1:1: local.file: argument \"content\": got bool, want string\n" +
				"ferry.star:2:1: time.sleep: argument \"duration\": got int, want duration string such as \"30s\"\n" +
				"ferry.star:3:1: time.sleep: argument \"duration\": \"5 minutes\" is not a duration: write one such as \"300ms\", \"1.5h\" or \"2h45m\"",
		},
		{
			name: "reference of the wrong kind",
			files: map[string]string{"ferry.star": `a = null.resource("a")
local.file("f", path = "p", content = a.triggers)
`},
			want: `ferry.star:2:1: local.file: argument "content": got reference null.resource.a.triggers (dict), want string`,
		},
		{
			name:  "computed attribute",
			files: map[string]string{"ferry.star": "null.resource(\"a\", id = \"x\")\n"},
			want:  `ferry.star:1:1: null.resource: argument "id" is computed by the provider and cannot be set`,
		},
		{
			name: "duplicate resource",
			files: map[string]string{
				"ferry.star": "load(\"lib.star\", \"x\")\n\nnull.resource(\"a\")\n",
				"lib.star":   "x = null.resource(name = \"a\")\n",
			},
			want: "ferry.star:3:1: duplicate resource null.resource.a (first declared at lib.star:1:5)",
		},
		{
			name:  "same name, different types",
			files: map[string]string{"ferry.star": "null.resource(\"a\")\ntime.sleep(\"a\")\n"},
		},
		{
			name:  "duplicate output",
			files: map[string]string{"ferry.star": "output(\"o\", 1)\noutput(\"o\", 2)\n"},
			want:  `ferry.star:2:1: duplicate output "o" (first declared at ferry.star:1:1)`,
		},
		{
			name:  "output bad name",
			files: map[string]string{"ferry.star": "output(\"a b\", 1)\n"},
			want:  `ferry.star:1:1: output: invalid name "a b": use letters, digits, "_" and "-"`,
		},
		{
			name:  "output of a resource",
			files: map[string]string{"ferry.star": "a = null.resource(\"a\")\noutput(\"o\", {\"x\": [a]})\n"},
			want:  `ferry.star:2:1: output "o"["x"][0]: got the resource null.resource.a itself; pass an attribute such as a.id`,
		},
		{
			name:  "resource passed itself",
			files: map[string]string{"ferry.star": "a = null.resource(\"a\")\nnull.resource(\"b\", triggers = a)\nnull.resource(\"c\", triggers = {\"x\": a})\n"},
			want: "ferry.star:2:1: null.resource: argument \"triggers\": got the resource null.resource.a itself; pass an attribute such as a.id\n" +
				"ferry.star:3:1: null.resource: argument \"triggers\"[\"x\"]: got the resource null.resource.a itself; pass an attribute such as a.id",
		},
		{
			name:  "reference concatenated",
			files: map[string]string{"ferry.star": "a = null.resource(\"a\")\nx = \"id-\" + a.id\n"},
			want:  "ferry.star:2:11: cannot use the reference null.resource.a.id with +: references are opaque until apply; pass the reference itself as an argument, or build a string with format(\"...{}...\", reference)",
		},
		{
			name: "reference formatted",
			files: map[string]string{"ferry.star": `a = null.resource("a")
null.resource("b", triggers = {"x": "id-%s" % a.id})
null.resource("c", triggers = {"x": "{}".format(a.triggers["k"])})
local.file("f", path = str(a.id), content = "")
`},
			want: "ferry.star:2:1: null.resource: argument \"triggers\"[\"x\"]: a string was built from the reference null.resource.a.id; references are opaque until apply, so pass the reference itself, or build the string with format(\"...{}...\", reference)\n" +
				"ferry.star:3:1: null.resource: argument \"triggers\"[\"x\"]: a string was built from the reference null.resource.a.triggers.k; references are opaque until apply, so pass the reference itself, or build the string with format(\"...{}...\", reference)\n" +
				"ferry.star:4:1: local.file: argument \"path\": a string was built from the reference null.resource.a.id; references are opaque until apply, so pass the reference itself, or build the string with format(\"...{}...\", reference)",
		},
		{
			name:  "unknown attribute",
			files: map[string]string{"ferry.star": "a = null.resource(\"a\")\nx = a.idd\n"},
			want:  `ferry.star:2:6: null.resource.a has no attribute "idd" (did you mean "id"?); valid attributes: address, id, name, triggers`,
		},
		{
			name:  "index a string reference",
			files: map[string]string{"ferry.star": "a = null.resource(\"a\")\nx = a.id[\"k\"]\n"},
			want:  `ferry.star:2:9: cannot index null.resource.a.id: it refers to a string attribute; only dict attributes can be indexed`,
		},
		{
			name: "dict keys",
			files: map[string]string{"ferry.star": `null.resource("a", triggers = {"$ref": "x"})
null.resource("b", triggers = {1: "x"})
`},
			want: "ferry.star:1:1: null.resource: argument \"triggers\": dict key \"$ref\" starts with \"$\", which ferry reserves\n" +
				"ferry.star:2:1: null.resource: argument \"triggers\": dict key 1 is a int; keys must be strings",
		},
		{
			name: "values that cannot be stored",
			files: map[string]string{"ferry.star": `def f():
    pass
null.resource("a", triggers = {"f": f})
null.resource("b", triggers = {"s": set([1])})
null.resource("c", triggers = {"n": float("nan")})
`},
			want: "ferry.star:3:1: null.resource: argument \"triggers\"[\"f\"]: got function; want None, bool, int, float, string, list, tuple, dict, a reference such as a.id or a format() value\n" +
				"ferry.star:4:1: null.resource: argument \"triggers\"[\"s\"]: got set; want None, bool, int, float, string, list, tuple, dict, a reference such as a.id or a format() value\n" +
				"ferry.star:5:1: null.resource: argument \"triggers\"[\"n\"]: got float nan; only finite numbers can be stored",
		},
		{
			name:  "value containing itself",
			files: map[string]string{"ferry.star": "x = []\nx.append(x)\nnull.resource(\"a\", triggers = {\"x\": x})\n"},
			want:  "ferry.star:3:1: null.resource: argument \"triggers\"[\"x\"]" + strings.Repeat("[0]", 64) + `: value nested more than 64 levels deep (does it contain itself?)`,
		},
		{
			name:  "step limit",
			files: map[string]string{"ferry.star": "def loop():\n    n = 0\n    while True:\n        n += 1\nloop()\n"},
			opts:  Options{MaxSteps: 1000},
			want:  "ferry.star:4:11: configuration exceeded the execution step limit (MaxSteps = 1000): look for an endless loop, or raise MaxSteps\n  called from ferry.star:5:1",
		},
		{
			name:  "fail",
			files: map[string]string{"ferry.star": "x = 1\nfail(\"no\", x)\n"},
			want:  "ferry.star:2:1: fail: no 1",
		},
		{
			name: "soft errors then a hard one",
			files: map[string]string{"ferry.star": `null.resource("a", trigers = {})
x = var("missing")
null.resource("b", trigers = {})
`},
			want: "ferry.star:1:1: null.resource: unexpected argument \"trigers\" (did you mean \"triggers\"?)\n" +
				"ferry.star:2:5: var \"missing\" is not set: pass --var missing=VALUE or set FERRY_VAR_missing",
		},
		{
			name:  "too many errors",
			files: map[string]string{"ferry.star": "for i in range(1000):\n    null.resource(\"a%d\" % i, bad = 1)\n"},
			want: strings.Repeat("ferry.star:2:5: null.resource: unexpected argument \"bad\"\n", maxDiagnostics) +
				"too many errors (50): fix these first",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			opts := tt.opts
			opts.Dir = dir
			opts.Schemas = testSchemas()
			_, err := Load(context.Background(), opts)
			got := ""
			if err != nil {
				got = err.Error()
				var d *spec.Diagnostic
				var ds spec.Diagnostics
				if !errors.As(err, &d) && !errors.As(err, &ds) {
					t.Errorf("error is a %T, want *spec.Diagnostic or spec.Diagnostics", err)
				}
			}
			want := strings.ReplaceAll(tt.want, "$DIR", dir)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoadOptionErrors checks mistakes of the caller: plain errors, not
// diagnostics.
func TestLoadOptionErrors(t *testing.T) {
	schema := func(typ string, attrs ...spec.Attr) []spec.Schema {
		return []spec.Schema{{Type: typ, Attrs: attrs}}
	}
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"relative dir", Options{Dir: "conf"}, `lang: configuration directory "conf" must be an absolute path`},
		{"entry file outside", Options{Dir: "/x", File: "../y.star"}, `lang: entry file "../y.star": the path escapes the configuration directory`},
		{"type without provider", Options{Dir: "/x", Schemas: schema("resource")}, `lang: resource type "resource" must be "provider.kind" with both parts Starlark identifiers`},
		{"type with three parts", Options{Dir: "/x", Schemas: schema("a.b.c")}, `lang: resource type "a.b.c" must be "provider.kind" with both parts Starlark identifiers`},
		{"type twice", Options{Dir: "/x", Schemas: append(schema("a.b"), schema("a.b")...)}, `lang: resource type "a.b" is listed twice in Options.Schemas`},
		{"reserved attribute", Options{Dir: "/x", Schemas: schema("a.b", spec.Attr{Name: "address", Kind: spec.KindString})}, `lang: a.b: attribute name "address" is reserved (r.address is built in)`},
		{"bad attribute name", Options{Dir: "/x", Schemas: schema("a.b", spec.Attr{Name: "a-b", Kind: spec.KindString})}, `lang: a.b: attribute name "a-b" is not a Starlark identifier`},
		{"unknown kind", Options{Dir: "/x", Schemas: schema("a.b", spec.Attr{Name: "x", Kind: "text"})}, `lang: a.b: attribute "x" has unknown kind "text"`},
		{"bad default", Options{Dir: "/x", Schemas: schema("a.b", spec.Attr{Name: "x", Kind: spec.KindAny, Optional: true, Default: struct{}{}})}, `lang: a.b: default of "x": unsupported Go type struct {}`},
		{"clash with a builtin", Options{Dir: "/x", Schemas: schema("output.x")}, `lang: output() and providers and resource types (Options.Providers, Options.Schemas) both define "output"`},
		{"clash with Starlark", Options{Dir: "/x", Schemas: schema("len.x")}, `lang: providers and resource types (Options.Providers, Options.Schemas) redefines the Starlark builtin "len"`},
		{"provider named nix", Options{Dir: "/x", Schemas: schema("nix.store")}, `lang: resource type "nix.store": the prefix "nix" is ferry's own module (nix.module, nix.inline); register the provider under another name`},
		{"clash with machine()", Options{Dir: "/x", Schemas: schema("machine.x")}, `lang: machine() and providers and resource types (Options.Providers, Options.Schemas) both define "machine"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(context.Background(), tt.opts)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadCancelled(t *testing.T) {
	dir := writeFiles(t, map[string]string{"ferry.star": "def f():\n    while True:\n        pass\nf()\n"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Load(ctx, Options{Dir: dir})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestPrint(t *testing.T) {
	dir := writeFiles(t, map[string]string{"ferry.star": "a = null.resource(\"a\")\nprint(\"id:\", a.id)\n"})
	var got []string
	_, err := Load(context.Background(), Options{Dir: dir, Schemas: testSchemas(), Print: func(pos spec.Pos, msg string) {
		got = append(got, pos.String()+": "+msg)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ferry.star:2:1: id: <reference null.resource.a.id>"}, got); diff != "" {
		t.Errorf("print (-want +got):\n%s", diff)
	}
}

func TestLoadSymlinkCannotEscape(t *testing.T) {
	outside := writeFiles(t, map[string]string{"secret.star": "x = 1\n"})
	dir := writeFiles(t, map[string]string{"ferry.star": "load(\"link.star\", \"x\")\n"})
	if err := os.Symlink(filepath.Join(outside, "secret.star"), filepath.Join(dir, "link.star")); err != nil {
		t.Fatal(err)
	}
	_, err := Load(context.Background(), Options{Dir: dir})
	d, ok := spec.AsDiagnostic(err)
	if !ok || d.Pos.String() != "ferry.star:1:1" || !strings.HasPrefix(d.Summary, `cannot load "link.star": `) {
		t.Fatalf("err = %v, want a diagnostic at ferry.star:1:1 refusing link.star", err)
	}
}

// TestPredeclared pins the names every file sees, so that anything
// non-hermetic has to be added here on purpose.
func TestPredeclared(t *testing.T) {
	r, err := newRun(Options{Dir: "/x", Schemas: testSchemas()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"cloud", "cmd_check", "colmena", "defaults", "deployment", "format", "http_check", "install", "key", "lifecycle", "local", "machine", "nix", "nix_cache", "nixops", "nixpkgs", "null", "output", "rollout", "ssh", "time", "var"}
	if diff := cmp.Diff(want, r.predeclared.Keys()); diff != "" {
		t.Errorf("predeclared (-want +got):\n%s", diff)
	}
}
