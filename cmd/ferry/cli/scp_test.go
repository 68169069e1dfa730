package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestScp copies files and directories to and from a test host with
// `ferry scp`, over ferry's SSH holding the host to its pinned key.
func TestScp(t *testing.T) {
	hosts, web, db := startWebAndDB(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "ferry.star"), day2Config)
	write(t, filepath.Join(dir, "web.nix"), "{ ... }: { }\n")
	write(t, filepath.Join(dir, "db.nix"), "{ ... }: { }\n")
	setHostEnv(t, hosts, dir)
	t.Setenv("FERRY_VAR_web_key", web.HostKey)
	hostRoot := filepath.Join(web.Root, "root") // the host's /root

	local := filepath.Join(dir, "local")
	tree := filepath.Join(local, "tree")
	if err := os.MkdirAll(filepath.Join(tree, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(local, "a.txt"), "alpha\n")
	if err := os.Chmod(filepath.Join(local, "a.txt"), 0o640); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(tree, "top.txt"), "top\n")
	write(t, filepath.Join(tree, "sub", "deep.txt"), "deep\n")
	if err := os.Symlink("top.txt", filepath.Join(tree, "link")); err != nil {
		t.Fatal(err)
	}

	// Upload: to a new name, into an existing directory, a tree with -r.
	mustFerry(t, 0, dir, "", "scp", filepath.Join(local, "a.txt"), "web:/root/b.txt")
	mustFerry(t, 0, dir, "", "scp", filepath.Join(local, "a.txt"), "machine.web:/root")
	r := mustFerry(t, 1, dir, "", "scp", tree, "web:/root/")
	if !strings.Contains(r.stderr, "it is a directory: pass -r") {
		t.Errorf("directory without -r: %s", r.stderr)
	}
	mustFerry(t, 0, dir, "", "scp", "-r", tree, "web:/root/")
	want := map[string]string{
		"a.txt": "alpha\n", "b.txt": "alpha\n",
		"tree/top.txt": "top\n", "tree/sub/deep.txt": "deep\n", "tree/link": "-> top.txt",
	}
	if diff := cmp.Diff(want, readTree(t, hostRoot, want)); diff != "" {
		t.Errorf("on the host (-want +got):\n%s", diff)
	}
	if st, err := os.Stat(filepath.Join(hostRoot, "a.txt")); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("uploaded mode: %v, %v; want 0640", st.Mode(), err)
	}

	// Download: a file into a directory, a tree to a new name.
	back := filepath.Join(dir, "back")
	if err := os.Mkdir(back, 0o755); err != nil {
		t.Fatal(err)
	}
	mustFerry(t, 0, dir, "", "scp", "web:/root/b.txt", back)
	mustFerry(t, 0, dir, "", "scp", "-r", "web:/root/tree", filepath.Join(back, "copy"))
	want = map[string]string{"b.txt": "alpha\n", "copy/top.txt": "top\n", "copy/sub/deep.txt": "deep\n", "copy/link": "-> top.txt"}
	if diff := cmp.Diff(want, readTree(t, back, want)); diff != "" {
		t.Errorf("downloaded (-want +got):\n%s", diff)
	}
	r = mustFerry(t, 1, dir, "", "scp", "web:/root/nope", back)
	if !strings.Contains(r.stderr, "download /root/nope from "+web.Address()+": no such file or directory") {
		t.Errorf("missing file: %s", r.stderr)
	}
	r = mustFerry(t, 1, dir, "", "scp", "web:/a", "db:/b")
	if !strings.Contains(r.stderr, "both sides are on machines") {
		t.Errorf("two machines: %s", r.stderr)
	}

	// The pinned key is enforced: another host's key is refused.
	t.Setenv("FERRY_VAR_web_key", db.HostKey)
	r = mustFerry(t, 1, dir, "", "scp", filepath.Join(local, "a.txt"), "web:/root/c.txt")
	if !strings.Contains(r.stderr, "host key") {
		t.Errorf("wrong pinned key: %s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(hostRoot, "c.txt")); err == nil {
		t.Error("c.txt was uploaded to a host presenting another key")
	}
}

// readTree reads the files of want under root: contents, or "-> TARGET"
// for a symbolic link.
func readTree(t *testing.T, root string, want map[string]string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for rel := range want {
		p := filepath.Join(root, rel)
		if target, err := os.Readlink(p); err == nil {
			got[rel] = "-> " + target
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			got[rel] = err.Error()
			continue
		}
		got[rel] = string(data)
	}
	return got
}
