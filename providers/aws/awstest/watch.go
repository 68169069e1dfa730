package awstest

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/nixferry/ferry/remote/testhosts"
)

// watchPoll is how often the watcher asks moto for its instances: the bed
// emulating a cloud's clock, not a test waiting.
const watchPoll = 100 * time.Millisecond

// sshPort is where an instance's host listens, as a cloud machine's sshd.
const sshPort = 22

// HostState is where an instance's test host is.
type HostState string

// The states of an instance's test host.
const (
	HostNone HostState = ""     // not started yet (pending, or never seen)
	HostUp   HostState = "up"   // running; its sshd listens at PRIVATE_IP:22
	HostDown HostState = "down" // stopped; its /nix and /root are kept
	HostGone HostState = "gone" // terminated: removed with its folder
)

// Instance is what the watcher made of one moto instance.
type Instance struct {
	ID     string
	Region string
	State  HostState
	// Host is the test host (name: the instance ID), once it was started.
	Host testhosts.Host
	// HostKey is the public key the host presents (authorized_keys form):
	// the user data's, else a new one (GeneratedHostKey).
	HostKey          string
	GeneratedHostKey bool
	// UserDataErr says why the host key in the user data could not be
	// used; the host got a new key then, as a stock image would.
	UserDataErr error
	// Boots counts the starts of the host by the watcher (1 after the
	// first); BootID is the host's boot ID now.
	Boots  int
	BootID string
	// Err is the bed's failure to mirror the instance; the watcher leaves
	// it alone from then on, and the test fails.
	Err error
}

// Watcher mirrors moto's instances onto test hosts: every instance whose
// private IP lies in a subnet the bed made (Env.Subnet) gets a host at
// PRIVATE_IP:22, and nothing else ever does. See Env.Watch.
type Watcher struct {
	env   *Env
	fleet *testhosts.Fleet
	stop  context.CancelFunc
	done  chan struct{}

	mu        sync.Mutex
	instances map[string]*Instance
	changed   chan struct{} // closed and replaced at every change
	errs      []error       // the bed's failures, reported when the test ends
}

// Watch starts the instance watcher of test t, once (later calls until t
// ends return the same one): a goroutine that asks moto for the instances of every
// region where the bed made subnets, every 100 ms, and mirrors each one in
// those subnets onto a test host (remote/testhosts):
//
//   - running: the host is started at PRIVATE_IP:22, with the ed25519 host
//     key of its user data (ParseUserDataHostKey; a new key when there is
//     none) and the public key of its key pair (DescribeKeyPairs) as
//     root's only authorized key; a host that was stopped boots again,
//     with a new boot ID and a fresh /run;
//   - stopping or stopped: the host is halted; its /nix and /root stay;
//   - shutting-down, terminated or gone from moto: the host is removed.
//
// It stops, with every host, when t ends; its failures fail t then. The
// hosts need what remote/testhosts needs (root, sshd, nix-store); when
// that is missing t fails with the install command.
func (e *Env) Watch(t testing.TB) *Watcher {
	t.Helper()
	e.mu.Lock()
	w := e.watcher
	e.mu.Unlock()
	if w != nil {
		return w
	}
	fleet, err := testhosts.Start(t.Context(), testhosts.Options{Empty: true})
	if err != nil {
		t.Fatalf("instance watcher: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w = &Watcher{env: e, fleet: fleet, stop: cancel, done: make(chan struct{}),
		instances: map[string]*Instance{}, changed: make(chan struct{})}
	e.mu.Lock()
	e.watcher = w
	e.mu.Unlock()
	go w.run(ctx)
	t.Cleanup(func() {
		e.mu.Lock()
		e.watcher = nil // a later Watch starts a new one
		e.mu.Unlock()
		if err := w.Stop(); err != nil {
			t.Errorf("instance watcher: %v", err)
		}
	})
	return w
}

// Stop ends the watcher and every host it started, and returns the
// failures it met. The test's end calls it; it is safe to call twice.
func (w *Watcher) Stop() error {
	w.stop()
	<-w.done
	err := w.fleet.Stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	return errors.Join(append(slices.Clone(w.errs), err)...)
}

// Instance returns what the watcher knows of the instance id.
func (w *Watcher) Instance(id string) (Instance, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if in := w.instances[id]; in != nil {
		return *in, true
	}
	return Instance{}, false
}

// Wait returns once the instance id satisfies cond, or fails: the bed
// could not mirror it (Instance.Err), the watcher stopped, or ctx ended.
func (w *Watcher) Wait(ctx context.Context, id string, cond func(Instance) bool) (Instance, error) {
	for {
		w.mu.Lock()
		var in Instance
		if p := w.instances[id]; p != nil {
			in = *p
		}
		changed := w.changed
		w.mu.Unlock()
		if in.Err != nil {
			return in, in.Err
		}
		if in.ID != "" && cond(in) {
			return in, nil
		}
		select {
		case <-changed:
		case <-w.done:
			return in, fmt.Errorf("instance %s: the watcher stopped (state %q)", id, in.State)
		case <-ctx.Done():
			return in, fmt.Errorf("instance %s: waited for its test host in vain (state %q): %w", id, in.State, ctx.Err())
		}
	}
}

// WaitUp returns once the instance's host is up: its sshd answers at
// PRIVATE_IP:22.
func (w *Watcher) WaitUp(ctx context.Context, id string) (Instance, error) {
	return w.Wait(ctx, id, func(in Instance) bool { return in.State == HostUp })
}

// WaitDown returns once the instance's host is halted.
func (w *Watcher) WaitDown(ctx context.Context, id string) (Instance, error) {
	return w.Wait(ctx, id, func(in Instance) bool { return in.State == HostDown })
}

// WaitGone returns once the instance's host is removed.
func (w *Watcher) WaitGone(ctx context.Context, id string) (Instance, error) {
	return w.Wait(ctx, id, func(in Instance) bool { return in.State == HostGone })
}

func (w *Watcher) run(ctx context.Context) {
	defer close(w.done)
	tick := time.NewTicker(watchPoll)
	defer tick.Stop()
	failing := map[string]bool{} // regions whose last poll failed: report a failure once
	for {
		for region, nets := range w.env.bedNetworks() {
			err := w.poll(ctx, region, nets)
			if err != nil && ctx.Err() == nil && !failing[region] {
				w.fail(err)
			}
			failing[region] = err != nil
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// poll mirrors the instances of region that lie in nets.
func (w *Watcher) poll(ctx context.Context, region string, nets []netip.Prefix) error {
	c := w.env.EC2(region)
	seen := map[string]bool{}
	// Instances boot at once, as a cloud's do: their hosts are brought to
	// their states concurrently (one change at a time per host).
	var wg sync.WaitGroup
	defer wg.Wait()
	pages := ec2.NewDescribeInstancesPaginator(c, &ec2.DescribeInstancesInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("instance watcher, %s: DescribeInstances: %w", region, err)
		}
		for _, r := range page.Reservations {
			for _, inst := range r.Instances {
				ip, err := netip.ParseAddr(aws.ToString(inst.PrivateIpAddress))
				if err != nil || !slices.ContainsFunc(nets, func(p netip.Prefix) bool { return p.Contains(ip) }) {
					continue // moto's own addresses never get a host
				}
				id := aws.ToString(inst.InstanceId)
				seen[id] = true
				if inst.State != nil {
					wg.Go(func() { w.sync(ctx, c, region, inst, ip, inst.State.Name) })
				}
			}
		}
	}
	wg.Wait()
	// Instances moto forgot are gone.
	w.mu.Lock()
	var forgotten []string
	for id, in := range w.instances {
		if in.Region == region && !seen[id] && in.State != HostGone && in.Err == nil {
			forgotten = append(forgotten, id)
		}
	}
	w.mu.Unlock()
	for _, id := range forgotten {
		w.sync(ctx, c, region, types.Instance{InstanceId: aws.String(id)}, netip.Addr{}, types.InstanceStateNameTerminated)
	}
	return nil
}

// sync brings the host of one instance to its state.
func (w *Watcher) sync(ctx context.Context, c *ec2.Client, region string, inst types.Instance, ip netip.Addr, state types.InstanceStateName) {
	id := aws.ToString(inst.InstanceId)
	w.mu.Lock()
	in := w.instances[id]
	if in == nil {
		in = &Instance{ID: id, Region: region}
		w.instances[id] = in
	}
	cur := *in
	w.mu.Unlock()
	if cur.Err != nil {
		return
	}
	var err error
	switch state {
	case types.InstanceStateNameRunning:
		switch cur.State {
		case HostNone:
			err = w.start(ctx, c, &cur, inst, ip)
		case HostDown:
			if _, err = w.fleet.Boot(ctx, id); err == nil {
				cur.Boots++
				cur.State = HostUp
			}
		}
	case types.InstanceStateNameStopping, types.InstanceStateNameStopped:
		if cur.State == HostUp {
			if err = w.fleet.Halt(id); err == nil {
				cur.State = HostDown
			}
		}
	case types.InstanceStateNameShuttingDown, types.InstanceStateNameTerminated:
		switch cur.State {
		case HostUp, HostDown:
			if err = w.fleet.Remove(id); err == nil {
				cur.State = HostGone
			}
		case HostNone:
			cur.State = HostGone
		}
	}
	if err != nil && ctx.Err() != nil {
		return // stopping: not a failure of the bed
	}
	if err != nil {
		cur.Err = fmt.Errorf("instance %s (%s) at %s: %w", id, state, ip, err)
	}
	if cur.State == HostUp {
		if b, rerr := os.ReadFile(cur.Host.BootIDFile()); rerr == nil {
			cur.BootID = strings.TrimSpace(string(b))
		}
	}
	w.mu.Lock()
	changed := *in != cur
	*in = cur
	w.mu.Unlock()
	if cur.Err != nil {
		w.fail(cur.Err)
	} else if changed {
		w.broadcast()
	}
}

// start adds the host of a running instance seen for the first time.
func (w *Watcher) start(ctx context.Context, c *ec2.Client, in *Instance, inst types.Instance, ip netip.Addr) error {
	id := aws.ToString(inst.InstanceId)
	attr, err := c.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: inst.InstanceId, Attribute: types.InstanceAttributeNameUserData})
	if err != nil {
		return fmt.Errorf("DescribeInstanceAttribute userData: %w", err)
	}
	opts := testhosts.HostOptions{Name: id, Addr: ip.String(), Port: sshPort,
		// No key pair: nobody can log in, as on a stock image.
		AuthorizedKeys: "# instance " + id + " has no key pair\n"}
	if attr.UserData != nil && aws.ToString(attr.UserData.Value) != "" {
		userData, err := base64.StdEncoding.DecodeString(aws.ToString(attr.UserData.Value))
		if err != nil {
			return fmt.Errorf("user data is not base64: %w", err)
		}
		key, ok, err := ParseUserDataHostKey(userData)
		if err != nil {
			in.UserDataErr = err
		} else if ok {
			opts.HostKey = key.Private
		}
	}
	if name := aws.ToString(inst.KeyName); name != "" {
		out, err := c.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{name}, IncludePublicKey: aws.Bool(true)})
		if err != nil {
			return fmt.Errorf("DescribeKeyPairs %s: %w", name, err)
		}
		if len(out.KeyPairs) != 1 || aws.ToString(out.KeyPairs[0].PublicKey) == "" {
			return fmt.Errorf("DescribeKeyPairs %s: no public key", name)
		}
		opts.AuthorizedKeys = strings.TrimSpace(aws.ToString(out.KeyPairs[0].PublicKey)) + "\n"
	}
	h, err := w.fleet.Add(ctx, opts)
	if err != nil {
		return err
	}
	in.Host, in.HostKey, in.GeneratedHostKey = h, h.HostKey, opts.HostKey == nil
	in.State, in.Boots = HostUp, 1
	return nil
}

// fail records a failure of the bed, for Stop and the waiters.
func (w *Watcher) fail(err error) {
	w.mu.Lock()
	w.errs = append(w.errs, err)
	w.mu.Unlock()
	w.broadcast()
}

func (w *Watcher) broadcast() {
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.changed)
	w.changed = make(chan struct{})
}
