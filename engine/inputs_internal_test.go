package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/nixferry/ferry/engine/spec"
)

// weakSecret is a var value a dictionary attack finds at once.
const weakSecret = "Summer2024!"

// TestVarDigestsAreKeyed: var values reach the plan as digests keyed by
// the plan key; without one (a plan never written), by a random key of
// the process, never as a plain sha256.
func TestVarDigestsAreKeyed(t *testing.T) {
	in := spec.Inputs{Vars: map[string]string{"db_password": weakSecret}}
	k1 := planInputs(in, bytes.Repeat([]byte{1}, 32)).Vars["db_password"]
	k2 := planInputs(in, bytes.Repeat([]byte{2}, 32)).Vars["db_password"]
	none := planInputs(in, nil).Vars["db_password"]
	plain := sha256.Sum256([]byte("ferry var\x00db_password\x00" + weakSecret))
	if k1 == k2 || k1 == none || none == hex.EncodeToString(plain[:]) {
		t.Errorf("var digests: key 1 %s, key 2 %s, none %s, plain %x", k1, k2, none, plain)
	}
	if planInputs(in, nil).Vars["db_password"] != none {
		t.Errorf("the process key changed within the process")
	}
}
