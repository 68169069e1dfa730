package testhosts

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Network is a private IPv4 /24 on a bridge that lives in its own network
// namespace (TESTING.md, "A limited uplink"): every Node is a network
// namespace with one veth on the bridge, and this machine (the deployer)
// reaches the bridge through one uplink veth, whose outgoing traffic a tc
// token bucket (tbf) may limit. Hosts added with HostOptions.NetNS run
// in a node; a server listening in a node (ListenIn) is reached by the
// hosts over the bridge, unlimited, and by the deployer over the uplink.
//
// Nothing but the uplink's end and the namespaces' names in /run/netns
// exists outside the namespaces; Close deletes them all. Names start with
// a random prefix, so that networks of parallel test runs do not meet.
type Network struct {
	prefix string
	subnet string // "10.X.Y" of 10.X.Y.0/24
	bridge string // the bridge's namespace
	uplink string // the uplink's interface on this machine

	mu    sync.Mutex
	nodes []string // namespaces, for Close
	next  int      // last host part handed out
}

// NetworkOptions describe a Network.
type NetworkOptions struct {
	// Rate limits what the deployer sends into the network, as tc writes
	// rates ("200mbit"); "" is unlimited.
	Rate string
}

// NewNetwork creates the bridge, its namespace and the uplink; the
// deployer's end of the uplink has address SUBNET.1.
func NewNetwork(opts NetworkOptions) (*Network, error) {
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("test network: ip not found (apt-get install -y iproute2): %w", err)
	}
	var r [3]byte
	if _, err := rand.Read(r[:]); err != nil {
		return nil, err
	}
	n := &Network{prefix: fmt.Sprintf("ft%02x%02x", r[0], r[1]), subnet: fmt.Sprintf("10.%d.%d", 200+int(r[2])%50, r[1]), next: 9}
	n.bridge, n.uplink = n.prefix+"br", n.prefix+"up"
	steps := [][]string{
		{"netns", "add", n.bridge},
		{"-n", n.bridge, "link", "set", "lo", "up"},
		{"-n", n.bridge, "link", "add", "br0", "type", "bridge"},
		{"-n", n.bridge, "link", "set", "br0", "up"},
		{"link", "add", n.uplink, "type", "veth", "peer", "name", n.prefix + "ub", "netns", n.bridge},
		{"-n", n.bridge, "link", "set", n.prefix + "ub", "master", "br0", "up"},
		{"addr", "add", n.subnet + ".1/24", "dev", n.uplink},
		{"link", "set", n.uplink, "up"},
	}
	n.nodes = []string{n.bridge}
	for _, s := range steps {
		if err := ipCmd(s...); err != nil {
			return nil, errors.Join(err, n.Close())
		}
	}
	if opts.Rate != "" {
		if out, err := exec.Command("tc", "qdisc", "add", "dev", n.uplink, "root", "tbf", "rate", opts.Rate, "burst", "256kb", "latency", "100ms").CombinedOutput(); err != nil {
			return nil, errors.Join(fmt.Errorf("test network: tc qdisc add tbf: %v: %s", err, strings.TrimSpace(string(out))), n.Close())
		}
	}
	return n, nil
}

// Node creates a network namespace named after name with one interface,
// eth0, on the bridge, and returns the namespace and its address.
func (n *Network) Node(name string) (ns, addr string, err error) {
	n.mu.Lock()
	n.next++
	host := n.next
	ns = n.prefix + "-" + name
	n.nodes = append(n.nodes, ns)
	n.mu.Unlock()
	if host > 254 {
		return "", "", errors.New("test network: no address left in the /24")
	}
	addr = fmt.Sprintf("%s.%d", n.subnet, host)
	link := fmt.Sprintf("%sv%d", n.prefix, host)
	for _, s := range [][]string{
		{"netns", "add", ns},
		{"-n", ns, "link", "set", "lo", "up"},
		{"link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"link", "set", link, "netns", n.bridge},
		{"-n", n.bridge, "link", "set", link, "master", "br0", "up"},
		{"-n", ns, "addr", "add", addr + "/24", "dev", "eth0"},
		{"-n", ns, "link", "set", "eth0", "up"},
	} {
		if err := ipCmd(s...); err != nil {
			return "", "", err
		}
	}
	return ns, addr, nil
}

// ListenIn listens on TCP addr inside the network namespace ns: the
// socket belongs to that namespace, and is served from any goroutine.
func ListenIn(ns, addr string) (net.Listener, error) {
	type result struct {
		l   net.Listener
		err error
	}
	done := make(chan result, 1)
	go func() {
		// The thread enters ns and is never unlocked: Go ends it with
		// this goroutine instead of reusing it elsewhere.
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{err: fmt.Errorf("enter network namespace %s: %w", ns, err)}
			return
		}
		l, err := net.Listen("tcp", addr)
		done <- result{l, err}
	}()
	r := <-done
	return r.l, r.err
}

// Close deletes the network's namespaces (their veths go with them, the
// uplink too).
func (n *Network) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	var errs []error
	if _, err := net.InterfaceByName(n.uplink); err == nil {
		errs = append(errs, ipCmd("link", "del", n.uplink))
	}
	for i := len(n.nodes) - 1; i >= 0; i-- {
		if _, err := os.Stat("/run/netns/" + n.nodes[i]); err != nil {
			continue
		}
		errs = append(errs, ipCmd("netns", "del", n.nodes[i]))
	}
	n.nodes = nil
	return errors.Join(errs...)
}

func ipCmd(args ...string) error {
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("test network: ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
