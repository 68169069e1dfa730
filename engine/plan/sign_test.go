package plan_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/nixferry/ferry/engine/plan"
)

// TestSignature: a signed plan verifies after a round trip through its
// file; any edit of the file, or another key, fails; an unsigned plan is
// told apart.
func TestSignature(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	p := smallPlan()
	if err := plan.Verify(p, key); !errors.Is(err, plan.ErrUnsigned) {
		t.Fatalf("unsigned plan: %v, want ErrUnsigned", err)
	}
	if err := plan.Sign(p, key); err != nil {
		t.Fatal(err)
	}
	data := mustEncode(t, p)
	if !bytes.Equal(p.File(), data) {
		t.Fatalf("the file Sign kept differs from Encode's:\n%s\n---\n%s", p.File(), data)
	}
	decoded, err := plan.Decode("p.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Verify(decoded, key); err != nil {
		t.Fatalf("decoded plan: %v", err)
	}
	if err := plan.Verify(decoded, bytes.Repeat([]byte{8}, 32)); err == nil {
		t.Error("verified with another key")
	}
	for _, edit := range [][2]string{
		{`"action": "create"`, `"action": "delete"`},
		{`"deployment": "staging"`, `"deployment": "prod"`},
		{`"serial": 7`, `"serial": 8`},
		{`"activate": "switch"`, `"activate": "boot"`},
	} {
		if !bytes.Contains(data, []byte(edit[0])) {
			t.Fatalf("no %s in the plan", edit[0])
		}
		edited, err := plan.Decode("p.json", bytes.Replace(data, []byte(edit[0]), []byte(edit[1]), 1))
		if err != nil {
			t.Fatalf("%s: %v", edit[1], err)
		}
		if err := plan.Verify(edited, key); err == nil {
			t.Errorf("plan edited to %s verified", edit[1])
		}
	}
	if err := plan.Sign(p, nil); err == nil {
		t.Error("signed without a key")
	}
}
