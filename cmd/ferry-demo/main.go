package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/nixferry/ferry/providers/nix/nixtest"
	"github.com/nixferry/ferry/remote/testhosts"
)

func main() {
	ferry := flag.String("ferry", "bin/ferry", "the ferry binary")
	keep := flag.Bool("keep", false, "keep the scratch directory and leave nothing running")
	flag.Parse()
	bin, err := filepath.Abs(*ferry)
	check(err)
	if err := testhosts.Check(); err != nil {
		check(fmt.Errorf("%w\n(go tool task demo installs them through the deps task when run as root)", err))
	}
	dir, err := os.MkdirTemp("", "ferry-demo-")
	check(err)
	if !*keep {
		defer os.RemoveAll(dir)
	}

	fmt.Println("== starting two test hosts (sshd in their own namespaces, each with its own /nix)")
	fleet, err := testhosts.Start(context.Background(), testhosts.Options{Names: []string{"gitServer", "reverse-proxy"}})
	check(err)
	defer fleet.Stop()
	git, _ := fleet.Host("gitServer")
	proxy, _ := fleet.Host("reverse-proxy")
	for _, h := range fleet.Hosts {
		fmt.Printf("   %-14s root@%s:%d\n", h.Name, h.Addr, h.Port)
	}

	staging := filepath.Join(dir, "staging-git")
	check(copyTree(filepath.Join(repoRoot(), "examples", "staging-git"), staging))
	env := append(os.Environ(),
		"NIX_PATH=nixpkgs="+nixtest.NixpkgsPath(),
		"NIX_CONFIG=substituters =\nsandbox = false",
		"FERRY_SSH_KEY="+fleet.ClientKeyFile,
		"FERRY_VAR_git_host="+git.Addr, "FERRY_VAR_git_port="+strconv.Itoa(git.Port), "FERRY_VAR_git_host_key="+git.HostKey,
		"FERRY_VAR_proxy_host="+proxy.Addr, "FERRY_VAR_proxy_port="+strconv.Itoa(proxy.Port), "FERRY_VAR_proxy_host_key="+proxy.HostKey,
	)
	fmt.Printf("\n== examples/staging-git in %s (state: file://%s/.ferry)\n", staging, staging)
	step(bin, staging, env, "plan and save the plan for review", "plan", "--out", "plan.json")
	stepFails(bin, staging, env, "a plan-time choice with a saved plan is refused: the plan holds them", "apply", "plan.json", "--on", "gitServer")
	step(bin, staging, env, "apply exactly the reviewed plan", "apply", "plan.json")
	fmt.Println("\n== what the hosts run now")
	showSystems(fleet)
	if data, err := readHostFile(proxy, "etc/ferry-config.json"); err == nil {
		fmt.Printf("   reverse-proxy's nginx config (port read from nodes.gitServer): %s\n", strings.TrimSpace(data))
	}
	step(bin, staging, env, "re-plan: nothing left to do", "plan", "--detailed-exitcode")
	step(bin, staging, env, "what ferry recorded", "show")
	step(bin, staging, env, "machines are addresses like any other", "state", "list")
	step(bin, staging, env, "redeploy one machine although it is up to date (NixOps --force)", "apply", "--auto-approve", "--replace", "machine.gitServer")

	rollingWeb(bin, dir)

	basics := filepath.Join(dir, "basics")
	check(copyTree(filepath.Join(repoRoot(), "examples", "basics"), basics))
	fmt.Printf("\n== examples/basics: built-in resources, no machines\n")
	step(bin, basics, env, "plan", "plan", "--out", "plan.json")
	step(bin, basics, env, "apply", "apply", "plan.json")
	step(bin, basics, env, "destroy", "destroy", "--auto-approve")
	fmt.Println("\n== demo complete: test hosts stopped, scratch directory removed")
}

// rollingWeb deploys examples/rolling-web to three test hosts, then rolls
// out a release while web2 fails its health check.
func rollingWeb(bin, dir string) {
	fmt.Println("\n== starting three more test hosts for examples/rolling-web")
	fleet, err := testhosts.Start(context.Background(), testhosts.Options{Names: []string{"web1", "web2", "web3"}})
	check(err)
	defer fleet.Stop()
	web := filepath.Join(dir, "rolling-web")
	check(copyTree(filepath.Join(repoRoot(), "examples", "rolling-web"), web))
	env := append(os.Environ(),
		"NIX_PATH=nixpkgs="+nixtest.NixpkgsPath(),
		"NIX_CONFIG=substituters =\nsandbox = false",
		"FERRY_SSH_KEY="+fleet.ClientKeyFile,
		"FERRY_VAR_session_secret=demo-secret-never-in-plan-or-state",
		// The test hosts have no systemd: the health check is that the
		// host is not marked broken.
		"FERRY_VAR_health_cmd=test ! -e /run/demo-broken",
	)
	for _, h := range fleet.Hosts {
		env = append(env, "FERRY_VAR_"+h.Name+"_host="+h.Addr, "FERRY_VAR_"+h.Name+"_port="+strconv.Itoa(h.Port))
	}
	fmt.Printf("\n== examples/rolling-web in %s\n", web)
	step(bin, web, env, "plan release 1: keys (hashes only), health checks, one machine per batch", "plan", "--out", "plan.json")
	step(bin, web, env, "apply it", "apply", "plan.json")
	for _, h := range fleet.Hosts {
		info, err := os.Stat(filepath.Join(h.Root, "run", "keys", "session-secret"))
		check(err)
		fmt.Printf("   %-5s /run/keys/session-secret %v, %d bytes\n", h.Name, info.Mode().Perm(), info.Size())
	}
	fmt.Println("\n== marking web2 unhealthy (/run/demo-broken) and rolling out release 2")
	check(os.WriteFile(filepath.Join(fleet.Hosts[1].Root, "run", "demo-broken"), nil, 0o644))
	env2 := append(env, "FERRY_VAR_release=2")
	step(bin, web, env2, "plan release 2", "plan", "--out", "plan2.json")
	stepFails(bin, web, env2, "apply it: web2 fails its check and is rolled back, web3 is not touched", "apply", "plan2.json")
	fmt.Println("\n== what the web hosts run now")
	showSystems(fleet)
}

// showSystems prints what each host's /run/current-system points to.
func showSystems(fleet *testhosts.Fleet) {
	for _, h := range fleet.Hosts {
		cur, err := h.CurrentSystem()
		check(err)
		fmt.Printf("   %-14s /run/current-system -> %s\n", h.Name, cur)
	}
}

// readHostFile reads a file of the host's current system from outside.
func readHostFile(h testhosts.Host, rel string) (string, error) {
	cur, err := h.CurrentSystem()
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(h.StorePath(filepath.Join(cur, rel)))
	return string(data), err
}

func step(bin, dir string, env []string, title string, args ...string) {
	check(runStep(bin, dir, env, title, args))
}

// stepFails is step for a command that must fail.
func stepFails(bin, dir string, env []string, title string, args ...string) {
	if runStep(bin, dir, env, title, args) == nil {
		check(fmt.Errorf("ferry %s succeeded, but it should have failed", strings.Join(args, " ")))
	}
	fmt.Println("   (failed as expected)")
}

func runStep(bin, dir string, env []string, title string, args []string) error {
	fmt.Printf("\n== %s: ferry %s\n", title, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stdout
	return cmd.Run()
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
		if strings.HasPrefix(rel, ".ferry") || strings.HasPrefix(rel, "out") || strings.HasSuffix(rel, "plan.json") {
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
