package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportBoundaries enforces the package table of DESIGN.md: which
// packages may import which. It lives in cli, the one package allowed to
// import everything.
func TestImportBoundaries(t *testing.T) {
	const mod = "github.com/nixferry/ferry/"
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", mod+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	type rule struct {
		pkg       string   // prefix of the importing package (after the module path)
		forbidden []string // prefixes it must not import
		allowed   []string // exceptions to forbidden
	}
	rules := []rule{
		{pkg: "graph", forbidden: []string{mod}},
		{pkg: "engine/spec", forbidden: []string{mod}},
		{pkg: "lang", forbidden: []string{mod + "engine", mod + "providers", mod + "remote", mod + "cmd", "github.com/aws/", "cloud.google.com/", "google.golang.org/api"}, allowed: []string{mod + "engine/spec"}},
		{pkg: "engine", forbidden: []string{mod + "lang", mod + "cmd"}},
		// The machine pipeline is driven by the core through small
		// interfaces and never imports it; shared types live in the
		// leaves. So does the target-driver contract.
		{pkg: "engine/machines", forbidden: []string{mod + "engine"},
			allowed: []string{mod + "engine/plan", mod + "engine/spec", mod + "engine/state", mod + "engine/target"}},
		{pkg: "engine/target", forbidden: []string{mod + "engine"}, allowed: []string{mod + "engine/plan", mod + "engine/spec"}},
		{pkg: "providers", forbidden: []string{mod + "lang", mod + "engine", mod + "cmd"}, allowed: []string{mod + "engine/spec"}},
		{pkg: "remote", forbidden: []string{mod + "lang", mod + "engine", mod + "cmd", mod + "providers"}, allowed: []string{mod + "engine/spec"}},
	}
	drivers := []string{"gocloud.dev/blob/fileblob", "gocloud.dev/blob/memblob", "gocloud.dev/blob/s3blob", "gocloud.dev/blob/gcsblob", "gocloud.dev/blob/azureblob"}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := strings.TrimPrefix(fields[0], mod), fields[1:]
		for _, imp := range imports {
			if !strings.HasPrefix(pkg, "cmd/") {
				for _, d := range drivers {
					if imp == d {
						t.Errorf("%s imports the gocloud driver %s: drivers are blank-imported only in cmd", pkg, d)
					}
				}
			}
			for _, r := range rules {
				if pkg != r.pkg && !strings.HasPrefix(pkg, r.pkg+"/") {
					continue
				}
				if r.pkg == "engine" && strings.HasPrefix(pkg, "engine/spec") {
					continue // spec has its own, stricter rule
				}
				checked++
				if hasPrefix(imp, r.allowed) {
					continue
				}
				if hasPrefix(imp, r.forbidden) {
					t.Errorf("%s imports %s, which DESIGN.md's package table forbids", pkg, imp)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no imports were checked: go list output changed shape")
	}
}

func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if s == p || strings.HasPrefix(s, strings.TrimSuffix(p, "/")+"/") || (strings.HasSuffix(p, "/") && strings.HasPrefix(s, p)) {
			return true
		}
	}
	return false
}
