package machines

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/engine/target"
	"github.com/nixferry/ferry/providers/nix"
	"github.com/nixferry/ferry/remote"
)

// Installs (install(...) targets, nixos-anywhere style). A machine of an
// install target that state does not record as installed and verified
// (or one named by --replace) is planned as a deploy with a plan.Install:
//
//   - Plan reads the host's facts over SSH (target.Install.ReadFacts:
//     architecture, memory, boot mode, OS, lsblk's disks, the running
//     system) and checks them: the machine's disko layout (evaluation's
//     nix.Disko) must exist unless phases leaves out "disko", every disk it
//     names must be one the host has (else the error lists the host's
//     disks), and the host must have min_memory. The kexec phase is
//     dropped when the host runs the NixOS installer already (kexec =
//     "auto" and VARIANT_ID=installer, or kexec = "never"); else the
//     installer tarball is pinned by URL and SHA-256. The host key of the
//     host as it is now is pinned as for ssh (given, else trusted on first
//     use and shown).
//   - A host that already runs the planned system (and was never
//     installed by ferry) is not installed: it is deployed as any host.
//   - An install state records as started (state.Install.Done) resumes
//     after its completed phases (never going back to a phase before the
//     last completed one): the plan shows what it redoes. A host that
//     presents the key ferry wrote into the installed system (recorded
//     with the install phase) has rebooted into it: the plan counts the
//     reboot as done and apply only verifies the system.
//   - Apply (installApply) re-reads the facts and refuses when the OS or
//     a disk it wipes moved, then runs the phases, committing each as it
//     completes: kexec (the same host key expected from the installer),
//     disko (the layout's script, copied into the installer's store and
//     run), install (the closure copied into /mnt's store, nixos-install
//     --system, and an ed25519 host key ferry generates written into
//     /mnt/etc/ssh, its public half recorded before the reboot), reboot
//     (into the installed system, held to the generated key), then the
//     running system verified, the machine's keys uploaded, the health
//     checks, and the generation recorded. Only the public host key is
//     ever recorded.

// installNeeded reports whether the machine m, with state record rec, is
// installed by this plan.
func (b *planner) installNeeded(m *spec.Machine, rec *state.Machine) bool {
	if m.Target.Install == nil {
		return false
	}
	return rec == nil || rec.Installing() || b.replace[m.Addr]
}

// planInstall reads the host's facts and plans pm's install; it leaves pm
// alone when the host already runs the planned system and ferry never
// installed it.
func (b *planner) planInstall(ctx context.Context, pm *plan.Machine, m *spec.Machine, ev nix.Evaluated, rec *state.Machine) error {
	fail := func(format string, args ...any) error {
		return spec.Errorf(m.Target.Pos, fmt.Sprintf("machine %s: install: ", m.Name)+fmt.Sprintf(format, args...))
	}
	in := m.Target.Install
	if m.BuildOnTarget || m.BuildHost != nil {
		return fail(`an install copies the system built here into the installer's /mnt: build = "target" and build_host cannot build it; leave them out until the machine is installed`)
	}
	if b.pl.SSH == nil || !b.opts.Refresh {
		return fail("the plan must read the host's facts over SSH (run without --refresh=false)")
	}
	ep, err := target.Install{}.Endpoint(ctx, target.Env{SSH: b.pl.SSH}, pm.Target)
	if err != nil {
		return fail("%v", err)
	}
	release, err := acquire(ctx, b.reads)
	if err != nil {
		return err
	}
	conn, err := b.pl.SSH.Dial(ctx, ep)
	rebooted := false
	if rebootedInto(err, rec) {
		// An earlier apply was stopped while the host rebooted into the
		// installed system: it presents the key ferry wrote into it
		// (recorded before the reboot), so the reboot is done.
		ep.HostKey = rec.Install.HostKey
		if conn, err = b.pl.SSH.Dial(ctx, ep); err == nil {
			rebooted = true
			pm.Target.HostKey = rec.Install.HostKey
		}
	}
	var facts plan.HostFacts
	if err == nil {
		if pm.Target.HostKey == "" {
			pm.Target.HostKey = conn.HostKey() // trust on first use, shown in the plan
		}
		var probe []string // the disks the layout wipes: their file systems are shown
		if ev.Disko != nil && slices.Contains(in.Phases, "disko") {
			probe = ev.Disko.Disks
		}
		facts, err = target.Install{}.ReadFacts(ctx, conn, probe)
	}
	release()
	if err != nil {
		return fail("cannot read the host as it is now (%s): %v; the host must be reachable as root", ep, err)
	}
	installing := rec.Installing()
	if !installing && !b.replace[pm.Addr] && facts.Current != "" && facts.Current == pm.Path {
		return nil // runs the planned system already: deployed as any host
	}
	pi := &plan.Install{Kexec: in.Kexec, MinMemory: in.MinMemory, Facts: facts}
	if installing && !b.replace[pm.Addr] {
		pi.Done = slices.Clone(rec.Install.Done)
		if rebooted {
			pi.Done = append(pi.Done, "reboot")
		}
	}
	// A resumed install never goes back to a phase before its last
	// completed one: a kexec that an earlier apply skipped (the host ran
	// the installer then) is not done now from whatever the host runs.
	last := -1
	for i, p := range in.Phases {
		if slices.Contains(pi.Done, p) {
			last = i
		}
	}
	for i, p := range in.Phases {
		switch {
		case i < last && !slices.Contains(pi.Done, p):
			// Skipped by the apply that did the later phases.
		case p == "kexec" && (in.Kexec == "never" || in.Kexec == "auto" && facts.VariantID == "installer"):
			// The host runs the installer already.
		default:
			pi.Phases = append(pi.Phases, p)
		}
	}
	if in.HostKeyFile != "" && slices.Contains(pi.Redo(), "install") { // else written already
		_, pub, err := remote.ReadHostKey(configPath(b.cfg.Dir, in.HostKeyFile))
		if err != nil {
			return fail("installed_host_key: %v", err)
		}
		pi.HostKeyFile, pi.HostKey = in.HostKeyFile, pub
	}
	if facts.MemBytes < in.MinMemory {
		return fail("the host has %s of memory, less than min_memory %s the kexec installer needs; nothing was touched", plan.Bytes(facts.MemBytes), plan.Bytes(in.MinMemory))
	}
	if slices.Contains(in.Phases, "disko") {
		d := ev.Disko
		if d == nil {
			return fail(`the machine's NixOS configuration has no disko layout: set disko.devices (import disko's NixOS module), or leave "disko" out of phases when the target's file systems are mounted at /mnt already`)
		}
		if d.ScriptDrv == "" {
			return fail("the machine's disko module builds no config.system.build.diskoScript")
		}
		for _, disk := range d.Disks {
			if _, ok := facts.Disk(disk); !ok {
				return fail("the disko layout names the disk %s, which the host does not have; it has %s", orNone(disk), facts.DiskPaths())
			}
		}
		pi.Disks, pi.DiskoDrv, pi.Disko = d.Disks, d.ScriptDrv, d.Script
		if slices.Contains(pi.Redo(), "disko") {
			pi.Wipes = d.Disks
		}
	}
	if slices.Contains(pi.Redo(), "kexec") {
		url := in.KexecImage
		switch {
		case url == "":
			url = target.DefaultKexecImage(facts.Arch)
		case !strings.Contains(url, "://"):
			url = configPath(b.cfg.Dir, url)
		}
		img, err := target.Install{}.PinKexecImage(ctx, url, facts.Arch)
		if err != nil {
			return fail("%v", err)
		}
		pi.KexecImage = img
	}
	pm.Install = pi
	pm.Action, pm.Reason = plan.Deploy, ""
	if rebooted && !b.replace[pm.Addr] {
		pm.Reason = fmt.Sprintf("resumes the install that an earlier apply left after %s: the host has rebooted into the installed system (it presents the host key ferry wrote into it), which apply verifies", strings.Join(rec.Install.Done, ", "))
	} else if len(pi.Done) > 0 {
		pm.Reason = fmt.Sprintf("resumes the install that an earlier apply left after %s: redoes %s", strings.Join(pi.Done, ", "), orNone(strings.Join(pi.Redo(), ", ")))
	} else if b.replace[pm.Addr] {
		pm.Reason = "requested with --replace: installed again"
	}
	pm.MagicRollback, pm.ConfirmTimeout, pm.Reboot, pm.Packages = false, "", nil, nil
	return nil
}

// rebootPending reports whether rec records an install that wrote the
// installed system's host key and did not record the reboot into it.
func rebootPending(rec *state.Machine) bool {
	return rec.Installing() && rec.Install.HostKey != "" && slices.Contains(rec.Install.Done, "install") && !slices.Contains(rec.Install.Done, "reboot")
}

// rebootedInto reports whether err, from connecting to the host of the
// machine with record rec, is the host presenting the key ferry wrote
// for the system it installed and was rebooting into when the apply
// stopped: the reboot is done (planInstall reads the host with that key).
func rebootedInto(err error, rec *state.Machine) bool {
	var mm *remote.HostKeyMismatchError
	return errors.As(err, &mm) && rebootPending(rec) && remote.SameHostKey(mm.Got, rec.Install.HostKey)
}

// installApply installs m onto its host (see the comment at the top of
// this file): conn is the host as it is now, ep its endpoint. It returns
// the record to commit, also on failure: it holds the phases completed.
func (r *Run) installApply(ctx context.Context, conn *remote.Conn, m *plan.Machine, ep remote.Target, prev *state.Machine, progress func(string, ...any)) (*state.Machine, error) {
	in := m.Install
	drv := target.Install{}
	env := target.Env{SSH: r.pl.SSH, Progress: progress}
	facts, err := drv.ReadFacts(ctx, conn, in.Disks)
	if err != nil {
		return nil, fmt.Errorf("refused: %w; nothing was touched", err)
	}
	var hostKey []byte // the configured key of the installed system, if any
	if in.HostKey != "" && slices.Contains(in.Redo(), "install") {
		priv, pub, err := remote.ReadHostKey(configPath(r.configDir, in.HostKeyFile))
		if err != nil {
			return nil, fmt.Errorf("refused: installed_host_key: %w; nothing was touched", err)
		}
		if !remote.SameHostKey(pub, in.HostKey) {
			planned, _ := remote.Fingerprint(in.HostKey)
			now, _ := remote.Fingerprint(pub)
			return nil, fmt.Errorf("refused: installed_host_key %s holds %s, but the plan pinned %s; nothing was touched: run `ferry plan` again and review it", in.HostKeyFile, now, planned)
		}
		hostKey = priv
	}
	if moved := target.FactsMoved(in.Facts, facts, in.Disks); moved != "" {
		return nil, fmt.Errorf("refused: the host changed since the plan (%s); nothing was touched: run `ferry plan` again and review it", moved)
	}
	// The builds of the system and of the disko script.
	drvs := []string{m.Drv}
	if slices.Contains(in.Redo(), "disko") {
		drvs = append(drvs, in.DiskoDrv)
	}
	for _, d := range drvs {
		if err := r.built(d); err != nil {
			return nil, err
		}
	}
	rec := machineRecord(m, conn.HostKey(), nil)
	rec.Install = &state.Install{}
	if prev.Installing() && len(in.Done) > 0 {
		cp := *prev.Install
		cp.Done = slices.Clone(in.Done) // with "reboot" when the plan found the host rebooted
		rec.Install = &cp
	}
	if err := r.markActivating(m, rec); err != nil {
		return nil, err
	}
	done := func(phase string) error {
		rec.Install.Done = append(rec.Install.Done, phase)
		rec.StatusReason = "install of " + m.Path + " interrupted after " + strings.Join(rec.Install.Done, ", ")
		if err := r.commit(state.Change{Addr: m.Addr, Machine: cloneRecord(rec)}); err != nil {
			return fmt.Errorf("record the %s phase: %w", phase, err)
		}
		progress("install: %s done", phase)
		return nil
	}
	rec.Status = state.StatusUnverified
	for _, phase := range in.Redo() {
		var err error
		switch phase {
		case "kexec":
			progress("install: booting the NixOS kexec installer from %s", in.KexecImage.URL)
			conn, err = drv.Kexec(ctx, env, conn, ep, in.KexecImage, r.timeout())
		case "disko":
			progress("install: wiping and formatting %s with the disko layout", strings.Join(in.Wipes, ", "))
			err = r.copyClosure(ctx, conn, m, in.Disko, "disko ", progress)
			if err == nil {
				err = conn.Run(ctx, in.Disko, remote.RunOptions{})
			}
		case "install":
			var key string
			key, err = r.installSystem(ctx, conn, m, hostKey, progress)
			rec.Install.HostKey = key
		case "reboot":
			if rec.Install.HostKey == "" {
				return rec, errors.New("install: reboot: no host key was generated for the installed system: run the install phase first (ferry plan --replace " + m.Addr + ")")
			}
			next := ep
			next.HostKey = rec.Install.HostKey
			progress("install: rebooting into the installed system, holding it to the host key written into it")
			conn, err = drv.RestartInto(ctx, env, conn, next, r.timeout())
			if err == nil {
				ep = next
				r.mu.Lock()
				r.endpoints[m.Addr] = next
				r.mu.Unlock()
				rec.HostKey = next.HostKey
				if id, berr := remote.BootID(ctx, conn); berr == nil {
					rec.BootID = id
				}
			}
		}
		if err != nil {
			return rec, fmt.Errorf("install: %s: %w", phase, err)
		}
		if err := done(phase); err != nil {
			return rec, err
		}
	}
	if rec.BootID == "" { // the plan found the host rebooted already
		if id, err := remote.BootID(ctx, conn); err == nil {
			rec.BootID = id
		}
	}
	cur, err := remote.CurrentSystem(ctx, conn)
	if err != nil {
		return rec, fmt.Errorf("install: read the running system: %w", err)
	}
	if cur != m.Path {
		return rec, fmt.Errorf("install: the host runs %s, not the installed system %s", orNone(cur), m.Path)
	}
	// The machine's keys, all of them (pre- and post-activation alike:
	// the first boot activated the system), before the health checks.
	if err := upload(ctx, conn, m.Addr, r.secrets.of(m.Addr), "", rec.Keys, progress); err != nil {
		return rec, fmt.Errorf("install: keys (the installed system runs; run `ferry apply` again to upload them): %w", err)
	}
	rec, err = r.checked(ctx, conn, m, rec, systemState{}, "health check after install", progress)
	if err == nil {
		rec.Install.Verified = true
	}
	return rec, err
}

// installSystem copies m's closure into the store of the file systems
// mounted at /mnt, runs nixos-install --system, and writes an ed25519
// host key into /mnt/etc/ssh: configured (given, the configuration's
// installed_host_key) or generated by ferry; it returns the key's public
// half. The private half never leaves this function but to the host.
func (r *Run) installSystem(ctx context.Context, conn *remote.Conn, m *plan.Machine, given []byte, progress func(string, ...any)) (string, error) {
	if err := conn.Run(ctx, "mountpoint -q /mnt", remote.RunOptions{}); err != nil {
		return "", errors.New("/mnt is not a mount point on the host: mount the target's file systems there (or plan again with --replace " + m.Addr + " to redo disko)")
	}
	if err := r.transferTo(ctx, conn, m, "local?root=/mnt", progress); err != nil { // as the machine's transfer says
		return "", fmt.Errorf("copy the closure into /mnt: %w", err)
	}
	progress("install: nixos-install --system %s", m.Path)
	if err := conn.Run(ctx, remote.Command("nixos-install", "--system", m.Path, "--no-root-passwd", "--no-channel-copy"), remote.RunOptions{}); err != nil {
		return "", err
	}
	priv, pub, err := given, m.Install.HostKey, error(nil)
	if given == nil {
		if priv, pub, err = remote.NewHostKey("root@" + m.Name); err != nil {
			return "", err
		}
	}
	write := "set -e; umask 077; mkdir -p /mnt/etc/ssh; cat > /mnt/etc/ssh/ssh_host_ed25519_key.ferry-tmp\n" +
		"printf '%s\\n' " + remote.Quote(pub) + " > /mnt/etc/ssh/ssh_host_ed25519_key.pub\n" +
		"chmod 644 /mnt/etc/ssh/ssh_host_ed25519_key.pub\n" +
		"mv -f /mnt/etc/ssh/ssh_host_ed25519_key.ferry-tmp /mnt/etc/ssh/ssh_host_ed25519_key; sync"
	if err := conn.Run(ctx, write, remote.RunOptions{Stdin: strings.NewReader(string(priv))}); err != nil {
		return "", fmt.Errorf("write the host key into /mnt/etc/ssh: %w", err)
	}
	fp, _ := remote.Fingerprint(pub)
	if given != nil {
		fp += " (installed_host_key " + m.Install.HostKeyFile + ")"
	}
	progress("install: host key %s written into /mnt/etc/ssh, pinned", fp)
	return pub, nil
}

// configPath is path, as the configuration gives it, relative to the
// configuration folder dir.
func configPath(dir, path string) string {
	if filepath.IsAbs(path) || dir == "" {
		return path
	}
	return filepath.Join(dir, path)
}

// built waits for the local build and returns its error for drv.
func (r *Run) built(drv string) error {
	<-r.buildDone
	res, ok := r.builds[drv]
	switch {
	case ok && res.Err != nil:
		return fmt.Errorf("build: %w", res.Err)
	case !ok && r.buildErr != nil:
		return fmt.Errorf("build: %w", r.buildErr)
	case !ok:
		return fmt.Errorf("build: no result for %s", drv)
	}
	return nil
}

// timeout bounds the wait for a host to come back (--reboot-timeout).
func (r *Run) timeout() time.Duration {
	if r.rebootTimeout > 0 {
		return r.rebootTimeout
	}
	return remote.DefaultRebootTimeout
}

// cloneRecord copies rec deep enough to commit it while rec changes on.
func cloneRecord(rec *state.Machine) *state.Machine {
	cp := *rec
	if rec.Install != nil {
		in := *rec.Install
		in.Done = slices.Clone(rec.Install.Done)
		cp.Install = &in
	}
	return &cp
}
