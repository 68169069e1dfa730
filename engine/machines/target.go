package machines

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/engine/target"
	"github.com/nixferry/ferry/providers/nix"
	"github.com/nixferry/ferry/remote"
)

// Targets whose arguments come from resources (spec.Target.Refs: ssh(host
// = web.public_ip, host_key = web.host_key)). One resolver serves plan,
// apply and the day-2 commands; the drivers (engine/target) see only
// resolved targets.
//
//   - Plan resolves each reference against the values planned so far (and
//     state): known ones are checked and written into the plan like
//     literals; unknown ones (the resource is created or replaced by the
//     plan) stay in plan.Target.Refs and show as "(known after apply)".
//     Such a machine is not read at plan time (its host may not exist
//     yet) and is deployed: it is a new host, or the same at a new
//     endpoint.
//   - Apply resolves what is left from its own results (a resource it
//     created or replaced) or state, checks it, asks the driver for the
//     endpoint, waits until it accepts SSH (ApplyRequest.ReachTimeout),
//     and logs in with the host key pinned: a host_key that refers to an
//     attribute the provider reported is enforced before the first login,
//     so a host presenting another key is refused. Without host_key the
//     first login trusts the key the host presents (as for literal hosts)
//     and state pins it; a key pinned in state for a target that was
//     unknown at plan time is not used, since it belongs to the host that
//     was there before.
//   - A target's references are dependencies of its machine
//     (engine.BuildConfigGraph), so it deploys after its resources are
//     created.

// DefaultReachTimeout bounds the wait for a machine whose endpoint
// appears in this apply (ApplyRequest.ReachTimeout).
const DefaultReachTimeout = 5 * time.Minute

// targetArgs are the target arguments that may be known only after apply.
var targetArgs = []string{"host", "port", "user", "host_key"}

// resolveTargetRefs resolves the references in t.Refs (and its jump's)
// with lookup (ok false: not known yet): a known value is checked and set
// in its field, an unknown one stays in Refs. unknown lists what is left,
// as "host = fake.host.web.host", jump arguments prefixed with "jump.".
func resolveTargetRefs(t plan.Target, lookup func(spec.Ref) (any, bool)) (plan.Target, []string, error) {
	out := t
	out.Refs = nil
	var unknown []string
	for _, name := range targetArgs {
		x, ok := t.Refs[name]
		if !ok {
			continue
		}
		v := spec.Resolve(x, lookup)
		if spec.HasUnknown(v) {
			if out.Refs == nil {
				out.Refs = map[string]any{}
			}
			out.Refs[name] = x
			unknown = append(unknown, name+" = "+spec.Render(x))
			continue
		}
		if err := setTargetArg(&out, name, v); err != nil {
			return t, nil, fmt.Errorf("target argument %s = %s: %w", name, spec.Render(x), err)
		}
	}
	if t.Jump != nil {
		j, ju, err := resolveTargetRefs(*t.Jump, lookup)
		if err != nil {
			return t, nil, fmt.Errorf("jump host: %w", err)
		}
		out.Jump = &j
		for _, u := range ju {
			unknown = append(unknown, "jump."+u)
		}
	}
	return out, unknown, nil
}

// setTargetArg checks v, the value a reference resolved to, and sets the
// argument name of t to it. The rules are lang's for literals.
func setTargetArg(t *plan.Target, name string, v any) error {
	str := func() (string, error) {
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("is %s, not a string", spec.Render(v))
		}
		return s, nil
	}
	switch name {
	case "host":
		s, err := str()
		if err != nil {
			return err
		}
		switch {
		case s == "":
			return fmt.Errorf("is empty: the machine needs an address or DNS name")
		case strings.ContainsAny(s, " \t\r\n"), strings.HasPrefix(s, "-"), strings.Contains(s, "@"):
			return fmt.Errorf("is %q, which is not a host name or address", s)
		}
		t.Host = s
	case "port":
		var n int64
		switch p := v.(type) {
		case json.Number:
			i, err := p.Int64()
			if err != nil {
				return fmt.Errorf("is %s, not a whole number", p)
			}
			n = i
		case int:
			n = int64(p)
		case int64:
			n = p
		default:
			return fmt.Errorf("is %s, not a port number", spec.Render(v))
		}
		if n < 1 || n > 65535 {
			return fmt.Errorf("is %d, out of range: want 1 to 65535", n)
		}
		t.Port = int(n)
	case "user":
		s, err := str()
		if err != nil {
			return err
		}
		if s == "" || strings.ContainsAny(s, " \t\r\n@:/") || strings.HasPrefix(s, "-") {
			return fmt.Errorf("is %q, which is not a user name", s)
		}
		t.User = s
	case "host_key":
		if v == nil {
			return fmt.Errorf("is null: the provider reported no host key; leave host_key out to trust the key on first use")
		}
		s, err := str()
		if err != nil {
			return err
		}
		key, err := remote.ParseHostKey(s)
		if err != nil {
			return err
		}
		t.HostKey = key
	default:
		return fmt.Errorf("cannot be known only after apply")
	}
	return nil
}

// targetRefs lists the references of a target's arguments, its jump's
// included.
func targetRefs(t spec.Target) []spec.Ref {
	refs := spec.Refs(t.Refs)
	if t.Jump != nil {
		refs = append(refs, targetRefs(*t.Jump)...)
	}
	return refs
}

// MachineTarget is how m is reached now, for the day-2 commands: its
// target with the references resolved from the resources in st, and the
// host key ferry holds it to (the configured one, else the one pinned in
// state for the same user@host:port; "" is trust on first use). A
// reference whose resource is not in st yet is an error that says to
// apply first.
func MachineTarget(m *spec.Machine, st *state.State) (plan.Target, error) {
	if m.Target.FromNix {
		if rec := st.Machines[m.Addr]; rec != nil {
			if t, ok := recordedTarget(rec); ok {
				return t, nil
			}
		}
		return plan.Target{}, fmt.Errorf("%s: its target comes from deployment.targetHost, known once deployed: run `ferry apply` first", m.Addr)
	}
	t, unknown, err := resolveTargetRefs(ResolveTarget(m.Target), stateLookup(st))
	if err != nil {
		return t, fmt.Errorf("%s: %w", m.Addr, err)
	}
	if len(unknown) > 0 {
		return t, fmt.Errorf("%s: the target's %s is not known yet: run `ferry apply` first", m.Addr, strings.Join(unknown, ", "))
	}
	t.HostKey = pinnedKey(t, st.Machines[m.Addr])
	return t, nil
}

// stateLookup resolves references against the resources recorded in st.
func stateLookup(st *state.State) func(spec.Ref) (any, bool) {
	return func(ref spec.Ref) (any, bool) {
		if st == nil {
			return nil, false
		}
		rec := st.Resources[ref.Addr]
		if rec == nil {
			return nil, false
		}
		v, ok := spec.Lookup(rec.Attrs, ref.Attr)
		if _, unknown := v.(spec.Unknown); unknown {
			return nil, false
		}
		return v, ok
	}
}

// reach resolves m's target for apply: what the plan left unknown is
// resolved from this apply's results (or state) and checked, the driver
// gives the endpoint, and an endpoint that appeared in this apply is
// waited for. It returns m with its target resolved (what state records)
// and the endpoint to log in to.
func (r *Run) reach(m *plan.Machine, progress func(string, ...any)) (*plan.Machine, remote.Target, error) {
	ctx := r.ctx
	drv, err := r.pl.drivers().Driver(m.Target.Kind)
	if err != nil {
		return nil, remote.Target{}, err
	}
	t := m.Target
	appeared := !t.Known()
	if appeared {
		var unknown []string
		var missing []string
		t, unknown, err = resolveTargetRefs(t, func(ref spec.Ref) (any, bool) {
			v, ok := r.results.Lookup(ref)
			if !ok {
				missing = append(missing, ref.String())
			}
			return v, ok
		})
		if err != nil {
			return nil, remote.Target{}, err
		}
		if len(unknown) > 0 {
			sort.Strings(missing)
			return nil, remote.Target{}, fmt.Errorf("the target's %s is not available at apply (no value for %s in this apply's results or in state)", strings.Join(unknown, ", "), strings.Join(missing, ", "))
		}
		how := "host key trusted on first use"
		if hk, ok := m.Target.Refs["host_key"]; ok {
			how = "host key from " + spec.Render(hk) + ", pinned before the first login"
		} else if t.HostKey != "" {
			how = "host key as configured"
		}
		progress("target resolved: %s (%s)", t, how)
	}
	env := target.Env{SSH: r.pl.SSH}
	ep, err := drv.Endpoint(ctx, env, t)
	if err != nil {
		return nil, remote.Target{}, fmt.Errorf("target: %w", err)
	}
	if appeared {
		timeout := r.reachTimeout
		if timeout <= 0 {
			timeout = DefaultReachTimeout
		}
		start := time.Now()
		if err := drv.Wait(ctx, env, ep, timeout); err != nil {
			err = fmt.Errorf("wait for the new host: %w", err)
			if h, ok := drv.(target.Hinter); ok && t.Resource != "" {
				id, _ := r.results.Lookup(spec.Ref{Addr: t.Resource, Attr: "id"})
				idStr, _ := id.(string)
				err = fmt.Errorf("%w; %s", err, h.UnreachableHint(t, idStr))
			}
			return nil, remote.Target{}, err
		}
		r.sink.Progress(m.Addr, time.Since(start), "accepts SSH connections")
	}
	cp := *m
	cp.Target = t
	r.mu.Lock()
	if r.endpoints == nil {
		r.endpoints = map[string]remote.Target{}
	}
	r.endpoints[m.Addr] = ep
	r.mu.Unlock()
	return &cp, ep, nil
}

// endpoint is the endpoint reach gave m.
func (r *Run) endpoint(m *plan.Machine) remote.Target {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ep, ok := r.endpoints[m.Addr]; ok {
		return ep
	}
	return RemoteTarget(m.Target)
}

// reboot reboots m through its target's driver.
func (r *Run) reboot(ctx context.Context, m *plan.Machine) (*remote.Conn, error) {
	drv, err := r.pl.drivers().Driver(m.Target.Kind)
	if err != nil {
		return nil, err
	}
	rb, ok := drv.(target.Rebooter)
	if !ok {
		return nil, fmt.Errorf("targets of kind %q cannot be rebooted by ferry", drv.Kind())
	}
	return rb.Reboot(ctx, target.Env{SSH: r.pl.SSH}, r.endpoint(m), remote.RebootOptions{Timeout: r.rebootTimeout})
}

// NixTarget is the target of the machine name whose configuration gave
// none (spec.Target.FromNix): its deployment.targetHost, targetPort and
// targetUser, each defaulting as in NixOps (the machine's name, 22,
// root), with From saying which is which. sshConfig, when not nil,
// applies the user's SSH client configuration (Pipeline.SSHConfig) as
// it does to ssh() targets: the host is looked up (HostName, ProxyJump),
// and Port and User apply where Nix left them unset.
func NixTarget(name string, d *nix.Deployment, sshConfig func(*spec.Target) error) (plan.Target, error) {
	if d == nil {
		d = &nix.Deployment{}
	}
	st := spec.Target{Kind: target.KindSSH, Host: name, Port: d.TargetPort, User: d.TargetUser}
	if d.TargetHost != "" {
		st.Host = d.TargetHost
	}
	if st.Port == 0 {
		st.Defaults = append(st.Defaults, "port")
	}
	if st.User == "" {
		st.Defaults = append(st.Defaults, "user")
	}
	alias := st.Host
	if sshConfig != nil {
		if err := sshConfig(&st); err != nil {
			return plan.Target{}, err
		}
	}
	t := ResolveTarget(st)
	from := []string{"host " + name + " (the machine's name: deployment.targetHost is unset)"}
	if d.TargetHost != "" {
		from[0] = "host from deployment.targetHost"
	}
	if t.Host != alias {
		from[0] += ", " + t.Host + " by ssh_config"
	}
	switch {
	case d.TargetPort != 0:
		from = append(from, "port from deployment.targetPort")
	case t.Port != 22:
		from = append(from, fmt.Sprintf("port %d (ssh_config)", t.Port))
	default:
		from = append(from, "port 22 (default)")
	}
	switch {
	case d.TargetUser != "":
		from = append(from, "user from deployment.targetUser")
	case t.User != "root":
		from = append(from, "user "+t.User+" (ssh_config)")
	default:
		from = append(from, "user root (default)")
	}
	if t.Jump != nil {
		from = append(from, "jump "+t.Jump.String()+" (ssh_config)")
	}
	t.From = strings.Join(from, ", ")
	return t, nil
}

// recordedTarget is the target state recorded for a machine
// ("user@host:port"), with the key pinned for it.
func recordedTarget(rec *state.Machine) (plan.Target, bool) {
	user, rest, ok := strings.Cut(rec.Target, "@")
	if !ok {
		return plan.Target{}, false
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil {
		return plan.Target{}, false
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return plan.Target{}, false
	}
	return plan.Target{Host: host, Port: p, User: user, HostKey: rec.HostKey, From: "the last deploy (state)"}, true
}

// ResolveTarget is how a configured target is reached: its defaults (port
// 22, user root) filled in. Plan, apply and every day-2 command use it.
// Arguments known only after apply stay in Refs (copied), their fields
// zero: resolveTargetRefs (plan, apply) or MachineTarget (day-2 commands,
// from state) resolves them.
func ResolveTarget(t spec.Target) plan.Target {
	out := plan.Target{Host: t.Host, Port: t.Port, User: t.User, HostKey: t.HostKey, Sudo: t.Sudo, Resource: t.Resource}
	if t.Kind != "" && t.Kind != target.KindSSH {
		out.Kind = t.Kind
	}
	if len(t.Refs) > 0 {
		out.Refs = spec.CloneMap(t.Refs)
	}
	if _, ref := t.Refs["port"]; out.Port == 0 && !ref {
		out.Port = 22
	}
	if _, ref := t.Refs["user"]; out.User == "" && !ref {
		out.User = "root"
	}
	if t.Jump != nil {
		j := ResolveTarget(*t.Jump)
		out.Jump = &j
	}
	return out
}

// RemoteTarget converts a plan target for the SSH layer.
func RemoteTarget(t plan.Target) remote.Target {
	out := remote.Target{Host: t.Host, Port: t.Port, User: t.User, HostKey: t.HostKey, Sudo: t.Sudo}
	if t.Jump != nil {
		j := RemoteTarget(*t.Jump)
		out.Jump = &j
	}
	return out
}

// PinnedHostKey is the host key ferry holds a machine to: the configured
// host_key, else the key pinned in state when the state's record is for
// the same user@host:port (a key recorded for another address belongs to
// another host); "" means trust on first use.
func PinnedHostKey(t spec.Target, rec *state.Machine) string {
	if _, ref := t.Refs["host_key"]; ref {
		return "" // configured as a reference: MachineTarget resolves it
	}
	return pinnedKey(ResolveTarget(t), rec)
}

// pinnedKey is the key ferry holds the resolved target t to: its own
// (configured) key, else the key state pinned for the same user@host:port.
func pinnedKey(t plan.Target, rec *state.Machine) string {
	if t.HostKey != "" {
		return t.HostKey
	}
	if rec != nil && rec.HostKey != "" && rec.Target == t.String() {
		return rec.HostKey
	}
	return ""
}
