package cli

import "testing"

func TestEvalMemory(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{"", 0, false},
		{"4GiB", 4 << 30, false},
		{"512MiB", 512 << 20, false},
		{"1.5G", 3 << 29, false},
		{"2GB", 2e9, false},
		{"1048576", 1 << 20, false},
		{"10K", 0, true}, // below 1 MiB
		{"lots", 0, true},
		{"-1G", 0, true},
	} {
		got, err := EvalFlags{EvalMemory: tt.in}.evalMemory()
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("evalMemory(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.bad)
		}
	}
}
