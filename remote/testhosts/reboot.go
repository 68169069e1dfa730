package testhosts

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The reboot protocol, shared with the stub systems (remote/testdata and the
// stub nixpkgs in providers/nix/testdata): a system's sw/bin/reboot writes
// "reboot" or "halt" to /run/ferry-test/reboot-request on the host. The fleet
// polls for that file; on "reboot" it stops the host as Stop does, empties
// its /run (a tmpfs on NixOS) except run/sshd, writes a new boot ID, points
// /run/booted-system and /run/current-system at the system to boot, and
// starts the host again on the same address and port. The system to boot is
// the target of /run/ferry-test/boot-system (what switch or boot installed
// as the boot entry) if it existed, else the system profile. On "halt" the
// host is only stopped.
const (
	rebootRequest = "ferry-test/reboot-request" // under the host's run
	bootEntry     = "ferry-test/boot-system"    // under the host's run
	rebootPoll    = 100 * time.Millisecond
)

// BootIDFile is the file bind-mounted over the host's
// /proc/sys/kernel/random/boot_id; it gets a new ID at every (re)start.
func (h Host) BootIDFile() string { return filepath.Join(h.Root, "boot_id") }

// writeBootID gives the host a new random boot ID, in the kernel's form (a
// lowercase UUID and a newline).
func writeBootID(h Host) error {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	id := fmt.Sprintf("%x-%x-%x-%x-%x\n", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	return os.WriteFile(h.BootIDFile(), []byte(id), 0o444)
}

// Reboots is how many reboots the fleet performed on the host named name.
func (f *Fleet) Reboots(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st := f.states[name]; st != nil {
		return st.reboots
	}
	return 0
}

// HoldReboots makes the host named name's reboot requests wait (kexec
// and halt requests are served) until release is called: a test can stop
// an apply that asked for a reboot before the host comes back, with no
// race against the reboot.
func (f *Fleet) HoldReboots(name string) (release func()) {
	set := func(held bool) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if st := f.states[name]; st != nil {
			st.held = held
		}
	}
	set(true)
	return func() { set(false) }
}

// watchReboots serves reboot requests until Stop, each host's in a
// goroutine of its own: hosts restart in parallel, as machines do (the
// restarts of ten hosts one after the other made a fleet's install
// measure the watcher). Stop waits for the restarts under way.
func (f *Fleet) watchReboots() {
	var serving sync.WaitGroup
	defer func() {
		serving.Wait()
		close(f.watchDone)
	}()
	tick := time.NewTicker(rebootPoll)
	defer tick.Stop()
	for {
		select {
		case <-f.stopWatch:
			return
		case <-tick.C:
		}
		f.mu.Lock()
		names := make([]string, len(f.Hosts))
		for i, h := range f.Hosts {
			names[i] = h.Name
		}
		f.mu.Unlock()
		for _, name := range names {
			serving.Add(1)
			go func() {
				defer serving.Done()
				f.serveReboot(name)
			}()
		}
	}
}

// serveReboot acts on the reboot request of the host named name, if it
// has one. A host another change holds (Halt, Boot, Restart, Remove) is
// looked at next time.
func (f *Fleet) serveReboot(name string) {
	f.mu.Lock()
	st := f.states[name]
	f.mu.Unlock()
	if st == nil || !st.op.TryLock() {
		return
	}
	defer st.op.Unlock()
	h, ok := f.Host(name)
	f.mu.Lock()
	down, held := st.halted || st.removed, st.held
	f.mu.Unlock()
	if !ok || down {
		return
	}
	req := filepath.Join(h.Root, "run", rebootRequest)
	b, err := os.ReadFile(req)
	if err != nil {
		return
	}
	switch strings.TrimSpace(string(b)) {
	case "":
		// Still being written: look again next time.
	case "reboot":
		if held {
			return // served once released
		}
		if err := f.reboot(h, st); err != nil {
			f.fail(st, fmt.Errorf("reboot test host %s: %w", h.Name, err))
			return
		}
		f.mu.Lock()
		st.reboots++
		f.mu.Unlock()
	case "kexec":
		if _, err := f.kexec(context.Background(), h, st); err != nil {
			f.fail(st, fmt.Errorf("kexec test host %s: %w", h.Name, err))
		}
	case "halt":
		os.Remove(req)
		if err := f.halt(st); err != nil {
			f.fail(st, fmt.Errorf("halt test host %s: %w", h.Name, err))
		}
	default:
		os.Remove(req) // not ours to interpret
	}
}

// fail records an error for Stop to report and leaves the host down.
func (f *Fleet) fail(st *hostState, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st.halted = true
	f.watchErrs = append(f.watchErrs, err)
}

// halt stops the host and marks it down. The caller holds st.op.
func (f *Fleet) halt(st *hostState) error {
	f.mu.Lock()
	st.halted = true
	p := st.proc
	f.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.stop()
}

// reboot restarts the host as a machine reboots: halt, then boot. The
// caller holds st.op.
func (f *Fleet) reboot(h Host, st *hostState) error {
	if err := f.halt(st); err != nil {
		return err
	}
	return f.boot(context.Background(), h, st)
}

// boot starts the stopped host as a machine boots: a fresh /run (keeping
// run/sshd, which sshd needs), a new boot ID, and the boot entry as
// current and booted system. A rescue or installer host with a disk
// boots the disk's boot entry when it has one (install.go); an installer
// without one comes back as the rescue system. The caller holds st.op.
func (f *Fleet) boot(ctx context.Context, h Host, st *hostState) error {
	run := filepath.Join(h.Root, "run")
	system, err := os.Readlink(filepath.Join(run, bootEntry))
	if h.Disk != "" && h.Kind != KindNixOS {
		entry, ok, err := ReadBootEntry(h.Disk)
		if err != nil {
			return err
		}
		switch {
		case ok && h.Kind != KindDisk:
			if h, err = f.bootDisk(h, entry); err != nil {
				return err
			}
			system = entry.System
		case ok && system == "":
			system = entry.System
		case !ok && h.Kind == KindInstaller:
			h.Kind = KindRescue
			if err := writeSSHDConfig(h); err != nil {
				return err
			}
		}
		f.setHost(h)
		return f.bootAs(ctx, h, st, system)
	}
	if errors.Is(err, os.ErrNotExist) {
		system, err = h.SystemProfile()
	}
	if err != nil {
		return fmt.Errorf("find the system to boot: %w", err)
	}
	return f.bootAs(ctx, h, st, system)
}

// bootAs starts the stopped host with a fresh /run (keeping run/sshd), a
// new boot ID, and system ("" for none) as current and booted system.
// The caller holds st.op.
func (f *Fleet) bootAs(ctx context.Context, h Host, st *hostState, system string) error {
	run := filepath.Join(h.Root, "run")
	entries, err := os.ReadDir(run)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() != "sshd" {
			if err := os.RemoveAll(filepath.Join(run, e.Name())); err != nil {
				return err
			}
		}
	}
	if system != "" {
		for _, link := range []string{"booted-system", "current-system"} {
			if err := os.Symlink(system, filepath.Join(run, link)); err != nil {
				return err
			}
		}
	}
	if err := writeBootID(h); err != nil {
		return err
	}
	return f.launchAndWait(ctx, h, st)
}

// launchAndWait starts the host's sshd and waits until it listens; the
// host is up from then on, with its record's host key the one it presents
// (a host booted from its disk: the installed system's, read first, so
// that a waiter that sees it up sees that key). The caller holds st.op.
func (f *Fleet) launchAndWait(ctx context.Context, h Host, st *hostState) error {
	np, err := f.launcher.launch(h)
	if err != nil {
		return err
	}
	f.mu.Lock()
	st.proc = np
	f.mu.Unlock()
	if _, err := waitListening(ctx, []*hostProcess{np}, time.Now().Add(startTimeout), false); err != nil {
		return err
	}
	if h.Kind == KindDisk {
		if _, err := f.readDiskHostKey(h); err != nil {
			return err
		}
	}
	f.mu.Lock()
	st.halted = false
	f.mu.Unlock()
	return nil
}
