//go:build unix

package awstest

import "testing"

// TestLeaseNetwork: a network another holder has (here this process
// through another lock file descriptor, as another test process would)
// is never handed out, and skip is honoured.
func TestLeaseNetwork(t *testing.T) {
	none := func(int) bool { return false }
	x1, release1, err := leaseNetwork(none)
	if err != nil {
		t.Fatal(err)
	}
	defer release1()
	x2, release2, err := leaseNetwork(none)
	if err != nil {
		t.Fatal(err)
	}
	defer release2()
	if x1 == x2 {
		t.Fatalf("127.%d.0.0/16 handed out twice", x1)
	}
	x3, release3, err := leaseNetwork(func(x int) bool { return x <= x2 })
	if err != nil {
		t.Fatal(err)
	}
	defer release3()
	if x3 <= x2 {
		t.Errorf("got 127.%d.0.0/16, skipping every X <= %d", x3, x2)
	}
}
