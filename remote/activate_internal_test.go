package remote

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseGenerations(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want []Generation
	}{
		{name: "no profile", out: "", want: nil},
		{
			name: "two generations, sorted by number, current marked",
			out: "system-10-link\t/nix/store/bbb-nixos-system-b\t1700000100\n" +
				"system-9-link\t/nix/store/aaa-nixos-system-a\t1700000000\n" +
				"current\tsystem-10-link\n",
			want: []Generation{
				{Number: 9, Path: "/nix/store/aaa-nixos-system-a", Date: time.Unix(1700000000, 0).UTC()},
				{Number: 10, Path: "/nix/store/bbb-nixos-system-b", Date: time.Unix(1700000100, 0).UTC(), Current: true},
			},
		},
		{
			name: "other profiles named system-* are ignored",
			out:  "system-1-link\t/nix/store/aaa-a\t1\nsystem-old-link\t/nix/store/x\t2\n",
			want: []Generation{{Number: 1, Path: "/nix/store/aaa-a", Date: time.Unix(1, 0).UTC()}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseGenerations(tt.out)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := parseGenerations("garbage"); err == nil {
		t.Error("parseGenerations(garbage) succeeded")
	}
}

func TestExitErrorMessage(t *testing.T) {
	tests := []struct {
		err  ExitError
		want string
	}{
		{ExitError{Host: "h", Cmd: "false", Code: 1}, `h: command "false" exited with status 1 and printed nothing`},
		{ExitError{Host: "h", Cmd: "x", Code: 2, Tail: "a\nb\n"}, "h: command \"x\" exited with status 2, last output:\n    a\n    b"},
		{ExitError{Host: "h", Cmd: "sleep 9", Code: -1, Signal: "KILL"}, `h: command "sleep 9" was killed by signal KILL and printed nothing`},
		{ExitError{Host: "h", Cmd: "x", Code: -1}, `h: command "x" ended without an exit status (connection lost?) and printed nothing`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() =\n%s\nwant\n%s", got, tt.want)
		}
	}
}
