package cli

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRedact: a sensitive value is hidden wherever it is shown; a null
// one (an imported key pair's private_key) is shown as null, which says
// only that there is no secret.
func TestRedact(t *testing.T) {
	got := redact(map[string]any{"private_key": "-----BEGIN", "token": nil, "name": "web"}, []string{"private_key", "token"})
	want := map[string]any{"private_key": sensitiveMark, "token": nil, "name": "web"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("redact (-want +got):\n%s", d)
	}
}
