package dialguard_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/nixferry/ferry/remote/dialguard"
)

func TestGuardCheck(t *testing.T) {
	g, err := dialguard.New(netip.MustParsePrefix("127.0.1.0/24"), netip.MustParsePrefix("127.1.3.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		target string
		ok     bool
	}{
		{"127.0.1.4", true},
		{"127.0.1.4:22", true},
		{"127.1.3.250:2222", true},
		{"[::ffff:127.0.1.4]:22", true}, // IPv4-mapped: the same address
		{"127.0.2.4:22", false},         // loopback, but not a bed subnet
		{"127.0.0.1:22", false},         // the plain test hosts' range, not allowed here
		{"54.214.10.20:22", false},      // moto's invented public address
		{"10.0.0.5:22", false},          // moto's default-VPC private address
		{"172.31.5.9", false},
		{"169.254.169.254:80", false},
		{"localhost:22", false}, // names are never resolved
		{"ec2-54-214-10-20.compute.amazonaws.com", false},
		{"[::1]:22", false},
		{"", false},
	}
	for _, tt := range tests {
		err := g.Check(tt.target)
		if (err == nil) != tt.ok {
			t.Errorf("Check(%q) = %v, want ok=%v", tt.target, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "refusing to dial") {
			t.Errorf("Check(%q) = %q, want it to say it refuses", tt.target, err)
		}
	}
}

func TestGuardAllowsOnlyLoopback(t *testing.T) {
	for _, p := range []string{"10.0.0.0/8", "0.0.0.0/0", "126.0.0.0/7", "54.214.0.0/16", "::1/128"} {
		if _, err := dialguard.New(netip.MustParsePrefix(p)); err == nil {
			t.Errorf("NewGuard(%s) succeeded; a guard must allow loopback networks only", p)
		}
	}
	var zero dialguard.Guard
	if err := zero.Check("127.0.0.1:22"); err == nil || !strings.Contains(err.Error(), "nothing") {
		t.Errorf("zero guard: Check = %v, want a refusal saying it allows nothing", err)
	}
}

func TestGuardRoundTrip(t *testing.T) {
	g, err := dialguard.Parse(" 127.0.1.0/24, 127.0.2.0/24 ,")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := g.String(), "127.0.1.0/24,127.0.2.0/24"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	back, err := dialguard.Parse(g.String())
	if err != nil || back.String() != g.String() {
		t.Errorf("ParseGuard(String) = %v, %v", back, err)
	}
	if _, err := dialguard.Parse("10.0.0.0/8"); err == nil {
		t.Error("ParseGuard(10.0.0.0/8) succeeded")
	}
	if _, err := dialguard.Parse("nonsense"); err == nil {
		t.Error("ParseGuard(nonsense) succeeded")
	}
}

// TestGuardDialContext: a refused target is never dialled; an allowed one
// is.
func TestGuardDialContext(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	g := &dialguard.Guard{}
	if _, err := g.DialContext(context.Background(), "tcp", l.Addr().String()); err == nil {
		t.Fatal("DialContext to an address outside the guard succeeded")
	}
	if err := g.Allow(netip.MustParsePrefix("127.0.0.1/32")); err != nil {
		t.Fatal(err)
	}
	c, err := g.DialContext(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatalf("DialContext to an allowed address: %v", err)
	}
	c.Close()
}
