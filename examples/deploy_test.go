package examples

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nixferry/ferry/cmd/ferry/cli"
	"github.com/nixferry/ferry/providers/nix/nixtest"
	"github.com/nixferry/ferry/remote/testhosts"
)

// TestDeployFromNixopsAndColmena deploys examples/from-nixops and
// examples/from-colmena into test hosts named as their nodes, through the
// CLI: the networks and the hive are read as they are, every machine is
// activated and runs the system its node describes, with the keys of its
// deployment.keys.
func TestDeployFromNixopsAndColmena(t *testing.T) {
	nixtest.RequireNix(t)
	for _, tt := range []struct {
		example string
		nodes   map[string]string   // node → what its system's etc/ferry-config.json must hold
		keys    map[string][]string // node → its keys in /run/keys
	}{
		{"from-nixops", map[string]string{"webserver": `"proxyPass":"http://127.0.0.1:8080"`, "gitServer": `"port":3000`, "proxy": `"proxyPass":"http://{gitServer}:3000"`},
			map[string][]string{"proxy": {"proxy-token"}}},
		{"from-colmena", map[string]string{"web": `"domain":"example.org"`, "db": `"htop-3.2.2"`},
			map[string][]string{"web": {"site-token"}}},
	} {
		t.Run(tt.example, func(t *testing.T) {
			var names []string
			for n := range tt.nodes {
				names = append(names, n)
			}
			hosts, err := testhosts.Start(context.Background(), testhosts.Options{Names: names})
			if err != nil {
				t.Fatalf("start test hosts (needs root, nix and sshd): %v", err)
			}
			t.Cleanup(func() {
				if err := hosts.Stop(); err != nil {
					t.Error(err)
				}
			})
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(tt.example)); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{
				"NIX_PATH":      "nixpkgs=" + nixtest.NixpkgsPath(),
				"NIX_CONFIG":    "substituters =\nsandbox = false",
				"FERRY_SSH_KEY": hosts.ClientKeyFile,
				"SSH_AUTH_SOCK": "",
				"NO_COLOR":      "1",
			}
			for _, h := range hosts.Hosts {
				env["FERRY_VAR_"+h.Name+"_host"] = h.Addr
				env["FERRY_VAR_"+h.Name+"_port"] = strconv.Itoa(h.Port)
			}
			for k, v := range env {
				t.Setenv(k, v)
			}
			var out, errOut bytes.Buffer
			stdio := cli.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, LookupEnv: os.LookupEnv}
			if code := cli.MainWith(context.Background(), []string{"-C", dir, "apply", "--auto-approve"}, stdio, cli.Options{}); code != 0 {
				t.Fatalf("ferry apply: exit status %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
			}
			for _, h := range hosts.Hosts {
				data, err := os.ReadFile(filepath.Join(h.Root, "run", "current-system", "etc", "ferry-config.json"))
				if err != nil {
					t.Fatalf("%s runs no system: %v\n%s", h.Name, err, out.String())
				}
				var cfg struct{ HostName string }
				if err := json.Unmarshal(data, &cfg); err != nil {
					t.Fatal(err)
				}
				for _, key := range tt.keys[h.Name] {
					if _, err := os.Stat(filepath.Join(h.Root, "run", "keys", key)); err != nil {
						t.Errorf("%s: its deployment.keys key %s is not on the host: %v", h.Name, key, err)
					}
				}
				want := tt.nodes[h.Name]
				if git, ok := hosts.Host("gitServer"); ok {
					want = strings.ReplaceAll(want, "{gitServer}", git.Addr) // nodes.gitServer.config.deployment.targetHost
				}
				if cfg.HostName != h.Name || !strings.Contains(string(data), want) {
					t.Errorf("%s runs hostName %q; want its own name and %s in:\n%s", h.Name, cfg.HostName, want, data)
				}
			}
		})
	}
}
