package remote

import (
	"testing"
)

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
