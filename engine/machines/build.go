package machines

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/remote"
)

// Where a machine's system is built (machine(build = ..., build_host =
// ..., store_path = ...)):
//
//   - here (the default): Start builds every such system in one
//     nix-store --realise, with Nix's -j and the remote builders of the
//     user's nix.conf; the machine node copies the closure to the host.
//   - on the target (build = "target", build_on_target = True): the
//     machine node copies the derivation closure and realises it there
//     (buildOnTarget, apply.go).
//   - on a build host (build_host = ssh(...)): the machine node copies the
//     derivation closure to the build host over ferry's connection to it
//     (its host key pinned: configured, else recorded in the machine's
//     state by the first apply that trusted it), realises it there, and
//     the target fetches the system from the build host directly
//     (remote.CopyBetween), so the system never passes through this
//     machine and this machine's store never holds it.
//   - given by store path (store_path = "/nix/store/..."): not evaluated,
//     not built. Plan pins the path and finds where it is (locateGiven):
//     this machine's store (pushed, as a built system is), the host's
//     store, or the host's substituters and its fleet cache (transfer =
//     nix_cache(...), e.g. the one CI fills; the host realises it); a path
//     no store holds fails the plan, naming where it looked.

// planBuildHost is m's build host with its key pinned: configured, else
// the one an earlier apply recorded for the same user@host:port.
func (b *planner) planBuildHost(m *spec.Machine) *plan.BuildHost {
	if m.BuildHost == nil {
		return nil
	}
	t := ResolveTarget(m.BuildHost.Target)
	t.Kind = ""
	if t.HostKey == "" {
		for _, addr := range sortedKeys(b.st.Machines) {
			if rec := b.st.Machines[addr]; rec.BuildHost == t.String() && rec.BuildHostKey != "" {
				t.HostKey = rec.BuildHostKey
				break
			}
		}
	}
	return &plan.BuildHost{Name: m.BuildHost.Name, Target: t}
}

// givenCheck asks a host whether it has a store path, or can fetch it
// from its substituters, and which substituters it has; the path is $1,
// the other arguments options of the fetch (a fleet cache's).
const givenCheck = `p=$1; shift
if nix-store --check-validity "$p" 2>/dev/null; then echo host; exit 0; fi
if nix-store --realise --dry-run "$p" "$@" 2>&1 | grep -q 'will be fetched'; then echo substitute; else echo none; fi
nix --extra-experimental-features nix-command show-config 2>/dev/null | sed -n 's/^substituters = //p'
`

// locateGiven finds where each planned system given by store path comes
// from (plan.Machine.SystemGiven): this machine's store, else the host's
// store or its substituters, asked over SSH. A path none of them holds
// fails the plan with where it looked. Machines whose host is stopped are
// not asked: apply leaves them alone.
func (b *planner) locateGiven(ctx context.Context, planned []*plan.Machine, reads map[string]remote.Target, pending, stopped map[string]string) error {
	var paths []string
	for _, pm := range planned {
		if pm.SystemGiven != "" {
			paths = append(paths, pm.Path)
		}
	}
	if len(paths) == 0 {
		return nil
	}
	missing, err := b.pl.Nix.MissingPaths(ctx, paths)
	if err != nil {
		return err
	}
	lacks := map[string]bool{}
	for _, p := range missing {
		lacks[p] = true
	}
	var errs []error
	for _, pm := range planned {
		if pm.SystemGiven == "" {
			continue
		}
		if !lacks[pm.Path] {
			pm.SystemGiven = plan.SystemLocal
			continue
		}
		if stopped[pm.Addr] != "" {
			continue
		}
		m := b.cfg.MachineByName(pm.Name)
		looked := "not in this machine's Nix store"
		ep, known := reads[pm.Addr]
		if !known || pending[pm.Addr] != "" || b.pl.SSH == nil {
			errs = append(errs, spec.Errorf(m.Pos, fmt.Sprintf("machine %s: store_path %s: %s, and the host cannot be asked before apply: build or fetch it here first (nix-store --realise %s)", pm.Name, pm.Path, looked, pm.Path)))
			continue
		}
		where, subs, err := b.askHost(ctx, ep, pm.Path, givenFetchOptions(pm.Transfer))
		if err != nil {
			errs = append(errs, spec.Errorf(m.Pos, fmt.Sprintf("machine %s: store_path %s: %s, and asking the host failed: %v", pm.Name, pm.Path, looked, err)))
			continue
		}
		switch where {
		case plan.SystemOnHost, plan.SystemSubstitute:
			pm.SystemGiven = where
		default:
			if subs == "" {
				subs = "none configured"
			}
			if t := pm.Transfer; t != nil && t.Mode == spec.TransferCache && t.Substituter != "" {
				subs += ", nor in the fleet cache " + t.Substituter
			}
			errs = append(errs, spec.Errorf(m.Pos, fmt.Sprintf("machine %s: store_path %s: no store holds it: %s, not in the Nix store of %s, and not in the host's substituters (%s); build it or copy it here (nix copy --from ...), or push it to a cache the host trusts", pm.Name, pm.Path, looked, ep, subs)))
		}
	}
	return errors.Join(errs...)
}

// givenFetchOptions are the options of a host's fetch of a system given
// by store path: its fleet cache (transfer = nix_cache(...)) as an extra
// substituter, trusted for that command only, besides its own.
func givenFetchOptions(t *plan.Transfer) []string {
	if t == nil || t.Mode != spec.TransferCache || t.Substituter == "" {
		return nil
	}
	opts := []string{"--option", "extra-substituters", t.Substituter, "--option", "narinfo-cache-negative-ttl", "0"}
	if t.PublicKey != "" {
		opts = append(opts, "--option", "extra-trusted-public-keys", t.PublicKey)
	}
	return opts
}

// askHost runs givenCheck on the host at ep, with the fetch's options.
func (b *planner) askHost(ctx context.Context, ep remote.Target, path string, opts []string) (where, substituters string, err error) {
	conn, err := b.pl.SSH.Dial(ctx, ep)
	if err != nil {
		return "", "", err
	}
	out, err := conn.Output(ctx, "sh -c "+remote.Quote(givenCheck)+" ferry "+remote.Command(append([]string{path}, opts...)...))
	if err != nil {
		return "", "", err
	}
	lines := strings.SplitN(strings.TrimSpace(out), "\n", 2)
	where = strings.TrimSpace(lines[0])
	if len(lines) > 1 {
		substituters = strings.TrimSpace(lines[1])
	}
	return where, substituters, nil
}

// buildOnHost builds m's system on its build host and has the target
// (conn) fetch it from there. rec records the build host and its key.
func (r *Run) buildOnHost(ctx context.Context, conn *remote.Conn, m *plan.Machine, rec *state.Machine, progress func(string, ...any)) error {
	bh := m.BuildHost
	bt := RemoteTarget(bh.Target)
	bconn, err := r.pl.SSH.Dial(ctx, bt)
	if err != nil {
		return fmt.Errorf("connect to the build host %s: %w", bh.Name, err)
	}
	rec.BuildHost, rec.BuildHostKey = bh.Target.String(), bconn.HostKey()
	if err := r.copyClosure(ctx, bconn, m, m.Drv, "derivation ", progress); err != nil {
		return fmt.Errorf("copy derivation to the build host %s: %w", bh.Name, err)
	}
	r.roots.done(m.Drv) // gcroots.go: the build host has the derivation now
	progress("building on %s (%s)", bh.Name, bt)
	if err := bconn.Run(ctx, remote.Command("nix-store", "--realise", m.Drv), remote.RunOptions{}); err != nil {
		return fmt.Errorf("build on %s: %w", bh.Name, err)
	}
	progress("fetching the system from %s", bh.Name)
	if err := remote.CopyBetween(ctx, bconn, conn, []string{m.Path}); err != nil {
		return fmt.Errorf("copy the system from the build host: %w", err)
	}
	return nil
}

// fetchGiven gets a system given by store path onto the host: pushed from
// this machine's store, or realised by the host from its substituters.
func (r *Run) fetchGiven(ctx context.Context, conn *remote.Conn, m *plan.Machine, progress func(string, ...any)) error {
	switch m.SystemGiven {
	case plan.SystemLocal:
		if err := r.copyClosure(ctx, conn, m, m.Path, "", progress); err != nil {
			return fmt.Errorf("copy closure: %w", err)
		}
	default:
		from := "the host's substituters"
		if opts := givenFetchOptions(m.Transfer); opts != nil {
			from += " and the fleet cache " + m.Transfer.Substituter
		}
		progress("fetching %s from %s", m.Path, from)
		if err := conn.Run(ctx, remote.Command(append([]string{"nix-store", "--realise", m.Path}, givenFetchOptions(m.Transfer)...)...), remote.RunOptions{}); err != nil {
			return fmt.Errorf("fetch the given system from %s: %w", from, err)
		}
	}
	return nil
}
