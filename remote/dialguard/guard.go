package dialguard

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/nixferry/ferry/remote"
)

// Env names the environment variable that carries a Guard's networks to a
// subprocess (String / Parse): "127.0.1.0/24,127.0.2.0/24".
const Env = "FERRY_TEST_DIAL_ALLOW"

// loopback is the only range a Guard ever allows.
var loopback = netip.MustParsePrefix("127.0.0.0/8")

// Guard refuses every dial target outside the networks it allows; it
// allows only loopback networks, and none until told. Tests check every
// SSH dial target with it, because moto hands out addresses (54.x public,
// 10.x and 172.31.x private) that belong to someone else and must never be
// dialled. It is safe for concurrent use; the zero value allows nothing.
//
// A remote.Dialer takes it as Options.DialContext (every TCP connection
// made from this machine) and Options.CheckAddress (every address, also
// those a jump host is asked to dial): see DialerOptions.
type Guard struct {
	mu      sync.Mutex
	allowed []netip.Prefix
}

// New returns a guard that allows prefixes, which must be loopback.
func New(prefixes ...netip.Prefix) (*Guard, error) {
	g := &Guard{}
	for _, p := range prefixes {
		if err := g.Allow(p); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// Allow lets the guard dial p, which must lie inside 127.0.0.0/8.
func (g *Guard) Allow(p netip.Prefix) error {
	p = p.Masked()
	if !p.IsValid() || !p.Addr().Is4() || p.Bits() < loopback.Bits() || !loopback.Contains(p.Addr()) {
		return fmt.Errorf("dial guard: refusing to allow %s: only networks inside %s can be test bed networks", p, loopback)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !slices.Contains(g.allowed, p) {
		g.allowed = append(g.allowed, p)
	}
	return nil
}

// Allowed lists the allowed networks, in the order they were allowed.
func (g *Guard) Allowed() []netip.Prefix {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.allowed)
}

// Check returns nil when target (a host or host:port) is an IP address in
// an allowed network, and an error naming it otherwise. Host names are
// refused: a test bed address is always an IP, and resolving a name would
// already be traffic.
func (g *Guard) Check(target string) error {
	host := target
	if h, _, err := net.SplitHostPort(target); err == nil {
		host = h
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("dial guard: refusing to dial %q: not an IP address (tests dial test bed addresses only)", target)
	}
	addr = addr.Unmap()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range g.allowed {
		if p.Contains(addr) {
			return nil
		}
	}
	allowed := "nothing"
	if len(g.allowed) > 0 {
		allowed = g.string()
	}
	return fmt.Errorf("dial guard: refusing to dial %s: outside the test bed's networks (%s); moto invents public and private addresses that must never be dialled", target, allowed)
}

// DialContext checks address, then dials it: net.Dialer.DialContext with
// the guard in front.
func (g *Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if err := g.Check(address); err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

// String lists the allowed networks, comma-separated, as Parse reads
// them.
func (g *Guard) String() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.string()
}

func (g *Guard) string() string {
	parts := make([]string, len(g.allowed))
	for i, p := range g.allowed {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}

// Parse reads a guard from String's form; "" allows nothing.
func Parse(s string) (*Guard, error) {
	g := &Guard{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("dial guard %q: %w", s, err)
		}
		if err := g.Allow(p); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// Narrow returns o with g in front of every dial: g checks each address
// before o's own CheckAddress does and before o's own DialContext (or a
// net.Dialer) dials it. It only ever takes reach away.
func (g *Guard) Narrow(o remote.Options) remote.Options {
	dial, check := o.DialContext, o.CheckAddress
	o.DialContext = func(ctx context.Context, network, address string) (net.Conn, error) {
		if err := g.Check(address); err != nil {
			return nil, err
		}
		if dial != nil {
			return dial(ctx, network, address)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, address)
	}
	o.CheckAddress = func(address string) error {
		if err := g.Check(address); err != nil {
			return err
		}
		if check != nil {
			return check(address)
		}
		return nil
	}
	return o
}

// FromEnv reads the guard that the variable Env carries, through lookup
// (os.LookupEnv): nil when Env is not set. An empty value is a guard that
// allows nothing; a value Parse refuses is an error, never "no guard".
func FromEnv(lookup func(string) (string, bool)) (*Guard, error) {
	s, ok := lookup(Env)
	if !ok {
		return nil, nil
	}
	g, err := Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%s (set by ferry's tests): %w; unset it or fix it", Env, err)
	}
	return g, nil
}
