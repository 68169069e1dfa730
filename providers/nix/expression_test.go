package nix

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nixferry/ferry/engine/spec"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// goldenMachines uses fixed paths, so the golden file is the same on every
// machine, and values that need escaping.
func goldenMachines() ([]Machine, map[string]any) {
	machines := []Machine{
		{
			Name: "reverse-proxy",
			Modules: []Module{
				{Path: "/srv/deploy/common.nix"},
				{Path: "/srv/deploy/proxy.nix", Args: map[string]any{
					"gitHost":  "10.0.0.2",
					"backends": []any{"a", spec.Number(-3), 1.5, nil, true},
				}},
			},
			System: "aarch64-linux",
		},
		{
			Name: "gitServer",
			Modules: []Module{
				{Path: "/srv/my deploy/git server.nix"},
				{Inline: "{ pkgs, ... }: {\n  environment.systemPackages = [ pkgs.hello ];\n  # \"${quoted}\"\n}\n"},
			},
			Args: map[string]any{
				"tricky": "quote \" backslash \\ dollar ${x} $y tab\t",
				"lb":     spec.Unknown{Source: "aws.elb.lb.dns_name"},
				"ref":    spec.Ref{Addr: "null.resource.a", Attr: "id"},
			},
		},
		{Name: "empty"},
	}
	resources := map[string]any{
		"dns":  map[string]any{"zone": "example.com", "ttl": json.Number("300")},
		"keys": []any{},
	}
	return machines, resources
}

func TestExpressionGolden(t *testing.T) {
	machines, resources := goldenMachines()
	got := Expression("/nix/var/ferry/nixpkgs", machines, resources)
	golden := filepath.Join("testdata", "expression.golden.nix")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("expression differs from %s (-want +got; go test -update rewrites it):\n%s", golden, diff)
	}
}

// The golden expression is valid Nix.
func TestExpressionParses(t *testing.T) {
	testNix(t)
	out, err := exec.Command("nix-instantiate", "--parse", filepath.Join("testdata", "expression.golden.nix")).CombinedOutput()
	if err != nil {
		t.Fatalf("nix-instantiate --parse: %v\n%s", err, out)
	}
}

func TestExpressionDefaultNixpkgs(t *testing.T) {
	got := Expression("", nil, nil)
	if !strings.Contains(got, "nixpkgs = <nixpkgs>;") || !strings.Contains(got, "resources = { };") {
		t.Errorf("expression without nixpkgs or resources:\n%s", got)
	}
}

// Values written by nixValue read back, through the real Nix, as the same
// JSON.
func TestNixValueRoundTrip(t *testing.T) {
	n := testNix(t)
	tests := []struct {
		value any
		want  string // JSON as Nix prints it
	}{
		{nil, `null`},
		{true, `true`},
		{"", `""`},
		{"quote \" backslash \\ dollar ${x} $${y} $ tab\t newline\n cr\r unicode é ☃", `"quote \" backslash \\ dollar ${x} $${y} $ tab\t newline\n cr\r unicode é ☃"`},
		{"''${x}''", `"''${x}''"`},
		{42, `42`},
		{-42, `-42`},
		{int64(-9223372036854775808), `-9223372036854775808`},
		{json.Number("9223372036854775807"), `9223372036854775807`},
		{json.Number("-7"), `-7`},
		{json.Number("1e3"), `1000`},
		{1.5, `1.5`},
		{-0.25, `-0.25`},
		{0.0, `0`},
		{1e21, `1e+21`},
		{[]any{-1, "a", []any{}, map[string]any{}}, `[-1,"a",[],{}]`},
		{map[string]any{"a b": 1, "${x}": 2, `"`: 3, "": 4}, `{"":4,"\"":3,"${x}":2,"a b":1}`},
		{[]string{"typed", "slice"}, `["typed","slice"]`},
		{map[string]int{"port": 22}, `{"port":22}`},
		{uint8(7), `7`},
	}
	exprs := make([]string, len(tests))
	for i, tt := range tests {
		exprs[i] = nixValue(tt.value, "  ")
	}
	expr := "[\n" + strings.Join(exprs, "\n") + "\n]"
	res, err := n.run(context.Background(), nil, "nix-instantiate", "--eval", "--strict", "--json", "-E", expr)
	if err != nil {
		t.Fatalf("%v\nexpression:\n%s", err, expr)
	}
	var got []json.RawMessage
	if err := json.Unmarshal(res.stdout, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(tests) {
		t.Fatalf("got %d values for %d tests", len(got), len(tests))
	}
	for i, tt := range tests {
		var want, have any
		_ = json.Unmarshal([]byte(tt.want), &want)
		_ = json.Unmarshal(got[i], &have)
		if diff := cmp.Diff(want, have); diff != "" {
			t.Errorf("%#v written as %s (-want +got):\n%s", tt.value, exprs[i], diff)
		}
	}
}

// An unknown value is an error only when a module uses it.
func TestNixValueUnknown(t *testing.T) {
	n := testNix(t)
	v := map[string]any{"known": "yes", "ip": spec.Unknown{Source: "aws.ec2.web.ip"}}
	ok, err := n.run(context.Background(), nil, "nix-instantiate", "--eval", "-E", "("+nixValue(v, "")+").known")
	if err != nil || !bytes.Equal(bytes.TrimSpace(ok.stdout), []byte(`"yes"`)) {
		t.Errorf("known attribute: %q, %v", ok.stdout, err)
	}
	_, err = n.run(context.Background(), nil, "nix-instantiate", "--eval", "-E", "("+nixValue(v, "")+").ip")
	if err == nil || !strings.Contains(err.Error(), "the value of aws.ec2.web.ip is known only after apply") {
		t.Errorf("unknown attribute: want a known-after-apply error, got %v", err)
	}
}

func TestNixPath(t *testing.T) {
	tests := map[string]string{
		"/srv/deploy/common.nix":  "/srv/deploy/common.nix",
		"/srv/deploy/":            "/srv/deploy",
		"/srv/my deploy/x.nix":    `(/. + "/srv/my deploy/x.nix")`,
		"/srv/${x}/x.nix":         `(/. + "/srv/\${x}/x.nix")`,
		"/srv/a+b_c-d.e/f.nix":    "/srv/a+b_c-d.e/f.nix",
		"/srv/ünicode/module.nix": `(/. + "/srv/ünicode/module.nix")`,
	}
	for in, want := range tests {
		if got := nixPath(in); got != want {
			t.Errorf("nixPath(%q) = %s, want %s", in, got, want)
		}
	}
}
