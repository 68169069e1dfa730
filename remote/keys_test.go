package remote_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nixferry/ferry/remote"
)

func TestUploadKey(t *testing.T) {
	fleet, _ := fixture(t)
	h := fleet.Hosts[0]
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	conn := dial(t, d, h)
	ctx := context.Background()
	os.RemoveAll(filepath.Join(h.Root, "run", "keys")) // other runs may have left it

	type want struct {
		path    string
		mode    os.FileMode
		uid     uint32
		gid     uint32
		content string
	}
	check := func(w want) {
		t.Helper()
		local := filepath.Join(h.Root, w.path)
		st, err := os.Stat(local)
		if err != nil {
			t.Fatal(err)
		}
		sys := st.Sys().(*syscall.Stat_t)
		if st.Mode().Perm() != w.mode || sys.Uid != w.uid || sys.Gid != w.gid {
			t.Errorf("%s: mode %v owner %d:%d, want %v %d:%d", w.path, st.Mode().Perm(), sys.Uid, sys.Gid, w.mode, w.uid, w.gid)
		}
		if b, _ := os.ReadFile(local); string(b) != w.content {
			t.Errorf("%s holds %q, want %q", w.path, b, w.content)
		}
	}

	// Defaults: /run/keys (created 0750), root:root, 0600.
	k := remote.Key{Name: "db-password", Content: []byte("s3cret\nwith a second line")}
	if k.Path() != "/run/keys/db-password" {
		t.Errorf("Path() = %q", k.Path())
	}
	if err := remote.UploadKey(ctx, conn, k); err != nil {
		t.Fatal(err)
	}
	check(want{"run/keys/db-password", 0o600, 0, 0, "s3cret\nwith a second line"})
	if st, err := os.Stat(filepath.Join(h.Root, "run", "keys")); err != nil || st.Mode().Perm() != 0o750 {
		t.Errorf("/run/keys: %v, %v; want mode 0750", st.Mode(), err)
	}

	// Replacing the key, another owner and mode, a folder of the host's own
	// (the hosts share /var and /etc with this machine: never write there).
	k.Content = []byte("rotated")
	if err := remote.UploadKey(ctx, conn, k); err != nil {
		t.Fatal(err)
	}
	check(want{"run/keys/db-password", 0o600, 0, 0, "rotated"})
	nobody := remote.Key{Name: "tls.key", Content: []byte("-----BEGIN KEY-----"), DestDir: "/root/secrets/web",
		User: "nobody", Group: "nogroup", Permissions: "0640"}
	if err := remote.UploadKey(ctx, conn, nobody); err != nil {
		t.Fatal(err)
	}
	check(want{"root/secrets/web/tls.key", 0o640, 65534, 65534, "-----BEGIN KEY-----"})
	empty := remote.Key{Name: "empty", DestDir: "/root/secrets", Permissions: "400"}
	if err := remote.UploadKey(ctx, conn, empty); err != nil {
		t.Fatal(err)
	}
	check(want{"root/secrets/empty", 0o400, 0, 0, ""})

	// No temporary file is left behind.
	for _, dir := range []string{"run/keys", "root/secrets/web"} {
		entries, _ := os.ReadDir(filepath.Join(h.Root, dir))
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				t.Errorf("%s: leftover %s", dir, e.Name())
			}
		}
	}
}

func TestUploadKeyErrorsNeverShowTheContent(t *testing.T) {
	fleet, _ := fixture(t)
	h := fleet.Hosts[1]
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	conn := dial(t, d, h)
	const secret = "hunter2-do-not-print"
	tests := []struct {
		name string
		key  remote.Key
		want string
	}{
		{"missing user", remote.Key{Name: "k", User: "no-such-user-ferry"}, "owner no-such-user-ferry:root does not exist on the host"},
		{"missing group", remote.Key{Name: "k", Group: "no-such-group-ferry"}, "does not exist on the host"},
		{"slash in the name", remote.Key{Name: "a/b"}, `key name "a/b" must be a file name`},
		{"dot dot", remote.Key{Name: ".."}, `key name ".." must be a file name`},
		{"no name", remote.Key{}, "key has no name"},
		{"bad mode", remote.Key{Name: "k", Permissions: "rw-------"}, `permissions "rw-------" must be octal`},
		{"not octal", remote.Key{Name: "k", Permissions: "0999"}, "must be octal"},
		{"relative folder", remote.Key{Name: "k", DestDir: "keys"}, "must be an absolute path"},
		{"folder not creatable", remote.Key{Name: "k", DestDir: "/proc/ferry-keys"}, "upload key /proc/ferry-keys/k to " + h.Address()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.key.Content = []byte(secret)
			err := remote.UploadKey(context.Background(), conn, tt.key)
			if err == nil {
				t.Fatal("UploadKey succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), h.Address()) {
				t.Errorf("error %q does not contain %q and the host", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the key's content is in the error: %v", err)
			}
			var exit *remote.ExitError
			if errors.As(err, &exit) && (strings.Contains(exit.Tail, secret) || strings.Contains(exit.Cmd, secret)) {
				t.Errorf("the key's content is in the ExitError: %+v", exit)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(h.Root, "run", "keys", "k")); err == nil {
		t.Errorf("a refused key was written")
	}
}
