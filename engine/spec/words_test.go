package spec

import "testing"

func TestCount(t *testing.T) {
	tests := []struct {
		n    int
		noun string
		want string
	}{
		{1, "machine", "1 machine"},
		{2, "machine", "2 machines"},
		{0, "machine", "0 machines"},
		{1, "path", "1 path"},
		{5, "derivation path", "5 derivation paths"},
		{2, "batch", "2 batches"},
		{1, "batch", "1 batch"},
		{3, "health check", "3 health checks"},
		{2, "key", "2 keys"},
		{2, "entry", "2 entries"},
		{2, "process", "2 processes"},
		{-1, "machine", "-1 machines"},
	}
	for _, tt := range tests {
		if got := Count(tt.n, tt.noun); got != tt.want {
			t.Errorf("Count(%d, %q) = %q, want %q", tt.n, tt.noun, got, tt.want)
		}
	}
}
