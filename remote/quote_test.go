package remote_test

import (
	"os/exec"
	"testing"

	"github.com/nixferry/ferry/remote"
)

func TestQuote(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "''"},
		{"plain", "plain"},
		{"/nix/store/abc-foo-1.0", "/nix/store/abc-foo-1.0"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"$HOME", "'$HOME'"},
		{"a;rm -rf /", "'a;rm -rf /'"},
		{"*?[", "'*?['"},
		{"new\nline", "'new\nline'"},
		{"`x`", "'`x`'"},
		{`back\slash`, `'back\slash'`},
		{"-n", "-n"},
		{"ünïcode", "'ünïcode'"},
	}
	for _, tt := range tests {
		if got := remote.Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %q, want %q", tt.in, got, tt.want)
		}
		// What the shell makes of it is exactly the input.
		out, err := exec.Command("/bin/sh", "-c", "printf '%s' "+remote.Quote(tt.in)).Output()
		if err != nil || string(out) != tt.in {
			t.Errorf("sh sees Quote(%q) as %q (%v)", tt.in, out, err)
		}
	}
}

func TestCommand(t *testing.T) {
	got := remote.Command("nix-env", "-p", "/nix/var/nix/profiles/system", "--set", "/nix/store/x y")
	want := "nix-env -p /nix/var/nix/profiles/system --set '/nix/store/x y'"
	if got != want {
		t.Errorf("Command = %q, want %q", got, want)
	}
}
