package lang

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/spec"
)

func TestLoadFlake(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"ferry.star": `nixpkgs(flake = "./", input = "nixpkgs")
machine("web", ssh(host = "10.0.0.2"), flake = ".#web", modules = [nix.inline("{ }")])
load("//infra/db.star", "db")
`,
		"infra/db.star": `db = machine("db", ssh(host = "10.0.0.3"), flake = "//#nixosConfigurations.db")` + "\n",
		"flake.nix":     "{ outputs = _: { }; }\n",
		"flake.lock":    "{}\n",
		"hosts/web.nix": "{ } # another directory: not hashed\n",
		"hardware.nix":  "{ }\n",
	})
	cfg, err := Load(context.Background(), Options{Dir: dir, Schemas: testSchemas()})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&spec.FlakeInput{Dir: dir, Input: "nixpkgs"}, cfg.NixpkgsFlake); diff != "" {
		t.Errorf("nixpkgs flake (-want +got):\n%s", diff)
	}
	for _, name := range []string{"web", "db"} {
		want := &spec.Flake{Dir: dir, Attr: name}
		if diff := cmp.Diff(want, cfg.MachineByName(name).Flake); diff != "" {
			t.Errorf("machine %s flake (-want +got):\n%s", name, diff)
		}
	}
	var files []string
	for f := range cfg.Inputs.Files {
		if strings.HasSuffix(f, ".nix") || strings.HasSuffix(f, ".lock") {
			files = append(files, f)
		}
	}
	slices.Sort(files)
	if diff := cmp.Diff([]string{"flake.lock", "flake.nix", "hardware.nix"}, files); diff != "" {
		t.Errorf("hashed inputs (-want +got):\n%s", diff)
	}
}

func TestLoadFlakeErrors(t *testing.T) {
	for _, tc := range []struct{ star, want string }{
		{`machine("web", ssh(host = "h"), flake = "./web")`, `flake "./web": write the flake's folder and the nixosConfigurations attribute, such as ".#web"`},
		{`machine("web", ssh(host = "h"), flake = "./nolock#web")`, `ferry.star:1:1: machine: flake "./nolock": no flake.lock beside flake.nix: run ` + "`nix flake lock`"},
		{`machine("web", ssh(host = "h"), flake = "./none#web")`, `flake "./none": no flake.nix in`},
		{`machine("web", ssh(host = "h"), flake = "../up#web")`, `flake "../up": leads outside the configuration directory`},
		{`nixpkgs(flake = "./", path = "./")`, `pass either path or flake, not both`},
		{`nixpkgs(input = "nixpkgs")`, `pass path (a nixpkgs source tree) or flake and input`},
	} {
		dir := writeFiles(t, map[string]string{"ferry.star": tc.star + "\n", "flake.nix": "{ }\n", "flake.lock": "{}\n", "nolock/flake.nix": "{ }\n"})
		_, err := Load(context.Background(), Options{Dir: dir, Schemas: testSchemas()})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.star, err, tc.want)
		}
	}
}
