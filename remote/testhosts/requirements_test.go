package testhosts_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nixferry/ferry/remote/testhosts"
)

func TestCheckPassesHere(t *testing.T) {
	// CI runs as root with the packages installed; a machine without them
	// must fail here, with the install command, rather than skip.
	if err := testhosts.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestMissingToolsSayWhatToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no unshare, mount or nix-store on PATH
	_, err := testhosts.Start(context.Background(), testhosts.Options{N: 1})
	if err == nil {
		t.Fatal("Start without unshare, mount and nix-store succeeded")
	}
	for _, want := range []string{"missing unshare, mount, nix-store", testhosts.InstallCommand} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}
