// Command ferry-demo runs ferry's main job end to end on an embedded default
// and narrates it: it copies examples/basics into a scratch directory, plans
// with --out, shows the saved plan, applies exactly that plan with file://
// state, and re-plans to show that nothing is left to do.
//
//	go tool task demo
package main

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

func main() {
	ferry := flag.String("ferry", "bin/ferry", "the ferry binary")
	keep := flag.Bool("keep", false, "keep the scratch directory")
	flag.Parse()
	bin, err := filepath.Abs(*ferry)
	check(err)
	src := filepath.Join(repoRoot(), "examples", "basics")
	dir, err := os.MkdirTemp("", "ferry-demo-")
	check(err)
	if !*keep {
		defer os.RemoveAll(dir)
	}
	check(copyTree(src, dir))
	fmt.Printf("== ferry demo in %s (state: file://%s/.ferry)\n", dir, dir)

	step(bin, dir, "validate the configuration", "validate")
	step(bin, dir, "plan and save the plan for review", "plan", "--out", "plan.json")
	step(bin, dir, "apply exactly the reviewed plan", "apply", "plan.json")
	step(bin, dir, "what ferry recorded", "state", "list")
	step(bin, dir, "the file local.file wrote", "show")
	data, err := os.ReadFile(filepath.Join(dir, "out", "motd.txt"))
	check(err)
	fmt.Printf("   out/motd.txt: %q\n", string(data))
	step(bin, dir, "re-plan: nothing left to do", "plan", "--detailed-exitcode")
	step(bin, dir, "state history", "state", "history")
	step(bin, dir, "destroy everything", "destroy", "--auto-approve")
	fmt.Println("\n== demo complete")
}

func step(bin, dir, title string, args ...string) {
	fmt.Printf("\n== %s: ferry %s\n", title, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	check(cmd.Run())
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if strings.HasPrefix(rel, ".ferry") || strings.HasPrefix(rel, "out") {
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferry-demo:", err)
		os.Exit(1)
	}
}
