package remote_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/remote"
)

func TestSSHConfigHost(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte(`
Host web !web-old
  HostName %h.example.org
  IdentityFile ~/.ssh/id_web
  IdentityFile %d/keys/%r@%h

Host chain
  ProxyJump alice@a.example:2200,[fd00::1]:22,b
  ProxyCommand none

Host *
  User bob
  IdentityFile /keys/all
`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := remote.LoadSSHConfig(path, "/home/u")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]remote.SSHHost{
		"web": {HostName: "web.example.org", User: "bob",
			IdentityFiles: []string{"/home/u/.ssh/id_web", "/home/u/keys/bob@web.example.org", "/keys/all"}},
		"web-old": {User: "bob", IdentityFiles: []string{"/keys/all"}},
		"chain": {User: "bob", IdentityFiles: []string{"/keys/all"}, ProxyJump: []remote.Target{
			{Host: "a.example", Port: 2200, User: "alice"}, {Host: "fd00::1", Port: 22}, {Host: "b"}}},
	}
	for alias, want := range tests {
		got, err := c.Host(alias)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", alias, diff)
		}
	}

	// A file that does not exist is an empty configuration.
	c, err = remote.LoadSSHConfig(filepath.Join(t.TempDir(), "none"), "/home/u")
	if err != nil {
		t.Fatal(err)
	}
	if h, err := c.Host("web"); err != nil || !cmp.Equal(h, remote.SSHHost{}) {
		t.Errorf("missing file: %+v, %v", h, err)
	}
}
