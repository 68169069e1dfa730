package testhosts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/nixferry/ferry/remote"
)

// Options describe a fleet.
type Options struct {
	// N hosts named h1..hN, unless Names is set.
	N     int
	Names []string
	// Base is the fleet's folder B, new or empty; "" means a new temporary
	// folder. Stop removes it.
	Base string
	// Port every sshd listens on; 0 picks a free port per host.
	Port int
	// StartTimeout bounds waiting for the hosts' sshd; 0 means 20s.
	StartTimeout time.Duration
	// Empty starts a fleet without hosts (N and Names unset): they come
	// later, with Add.
	Empty bool
}

// Fleet is a set of running test hosts.
type Fleet struct {
	Base string
	// Hosts are the fleet's hosts, in the order they were started. Add,
	// Remove and Restart change it: while they may run, read hosts with
	// the Host method instead.
	Hosts []Host
	// ClientKeyFile is an ed25519 private key (OpenSSH format, usable by
	// ssh -i) that every host accepts for root; ClientSigner is the same key.
	ClientKeyFile   string
	ClientSigner    ssh.Signer
	ClientPublicKey string // authorized_keys form
	// SSHConfigFile is an OpenSSH client configuration with one Host entry
	// per host name (address, port, client key, pinned host key), for
	// `ssh -F FILE h1` or NIX_SSHOPTS="-F FILE" with nix copy --to ssh://h1.
	SSHConfigFile string

	launcher *launcher

	stopOnce  sync.Once
	stopWatch chan struct{} // closed by Stop to end the reboot watcher
	watchDone chan struct{} // closed when the reboot watcher ended

	mu     sync.Mutex
	states map[string]*hostState // by host name
	// watchErrs are reboots or halts that failed, reported by Stop.
	watchErrs []error
}

// hostState is the life of one host. op serialises what changes it
// (reboot, halt, restart, boot, remove); mu of the fleet guards the
// fields.
type hostState struct {
	op      sync.Mutex
	proc    *hostProcess // nil before the first launch
	reboots int
	halted  bool // down until Boot or Restart; the reboot watcher leaves it alone
	held    bool // reboot requests wait (HoldReboots); kexec and halt ones do not
	removed bool
	disk    string // the loop device attached for the host, "" for none
}

// hostProcess is what Stop may signal: the unshare process Start created and
// the sshd it recorded as PID 1 of the host's namespace.
type hostProcess struct {
	name      string
	unshare   *exec.Cmd
	exited    chan struct{} // closed when unshare was reaped
	sshdPID   int
	startLog  string
	sshdLog   string
	listening bool
}

// Host returns the host named name.
func (f *Fleet) Host(name string) (Host, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range f.Hosts {
		if h.Name == name {
			return h, true
		}
	}
	return Host{}, false
}

// DialerOptions log in with the fleet's client key only (no agent, no key
// files from ~/.ssh).
func (f *Fleet) DialerOptions() remote.Options {
	return remote.Options{Signers: []ssh.Signer{f.ClientSigner}, KeyFiles: []string{}, NoAgent: true}
}

// Start checks the requirements, creates the hosts' folders and keys, starts
// every host and waits until each sshd listens. On error nothing is left
// running.
func Start(ctx context.Context, opts Options) (*Fleet, error) {
	if err := Check(); err != nil {
		return nil, err
	}
	names := opts.Names
	if len(names) == 0 {
		for i := 1; i <= opts.N; i++ {
			names = append(names, "h"+strconv.Itoa(i))
		}
	}
	if len(names) == 0 && !opts.Empty {
		return nil, errors.New("start test hosts: no hosts asked for (set Options.N or Options.Names, or Options.Empty to add them later)")
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 20 * time.Second
	}

	base := opts.Base
	if base == "" {
		var err error
		if base, err = os.MkdirTemp("", "ferry-testhosts-"); err != nil {
			return nil, fmt.Errorf("start test hosts: %w", err)
		}
	} else {
		if entries, err := os.ReadDir(base); err == nil && len(entries) > 0 {
			return nil, fmt.Errorf("start test hosts: folder %s is not empty: pick a new one (the hosts' stores must start empty)", base)
		}
		if err := os.MkdirAll(base, 0o700); err != nil {
			return nil, fmt.Errorf("start test hosts: %w", err)
		}
	}
	f := &Fleet{Base: base, launcher: startLauncher(), stopWatch: make(chan struct{}), watchDone: make(chan struct{}), states: map[string]*hostState{}}
	if err := f.start(ctx, names, opts); err != nil {
		close(f.watchDone) // never started
		if stopErr := f.Stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		return nil, err
	}
	go f.watchReboots()
	return f, nil
}

func (f *Fleet) start(ctx context.Context, names []string, opts Options) error {
	// The hosts bind-mount over /nix and /etc/nix: the mount points must exist.
	if err := os.MkdirAll("/nix", 0o755); err != nil {
		return fmt.Errorf("start test hosts: %w", err)
	}
	f.ClientKeyFile = filepath.Join(f.Base, "client_ed25519")
	var err error
	f.ClientSigner, f.ClientPublicKey, err = writeKey(f.ClientKeyFile, "ferry-testhosts-client")
	if err != nil {
		return fmt.Errorf("start test hosts: client %w", err)
	}

	addr := netip.MustParseAddr("127.0.0.1")
	seen := map[string]bool{}
	for _, name := range names {
		if name == "" || strings.ContainsAny(name, "/ \t\n") || name[0] == '.' || seen[name] {
			return fmt.Errorf("start test hosts: bad or repeated host name %q", name)
		}
		seen[name] = true
		addr = addr.Next()
		h := Host{Name: name, Addr: addr.String(), Port: opts.Port, Root: filepath.Join(f.Base, name)}
		if err := f.prepare(&h); err != nil {
			return fmt.Errorf("start test host %s: %w", name, err)
		}
		f.Hosts = append(f.Hosts, h)
	}

	// Start every host, then wait for all; a host whose sshd lost the race
	// for a picked port is started again on another.
	states := make([]*hostState, len(f.Hosts))
	for i, h := range f.Hosts {
		states[i] = &hostState{}
		f.states[h.Name] = states[i]
	}
	deadline := time.Now().Add(opts.StartTimeout)
	pending := make([]int, len(f.Hosts))
	for i := range pending {
		pending[i] = i
	}
	for attempt := 1; len(pending) > 0; attempt++ {
		for _, i := range pending {
			h := &f.Hosts[i]
			if opts.Port == 0 {
				port, err := freePort(h.Addr)
				if err != nil {
					return fmt.Errorf("start test host %s: %w", h.Name, err)
				}
				h.Port = port
			}
			if err := writeBootID(*h); err != nil {
				return fmt.Errorf("start test host %s: %w", h.Name, err)
			}
			if err := writeSSHDConfig(*h); err != nil {
				return fmt.Errorf("start test host %s: %w", h.Name, err)
			}
			p, err := f.launcher.launch(*h)
			if err != nil {
				return fmt.Errorf("start test host %s: %w", h.Name, err)
			}
			states[i].proc = p
		}
		procs := make([]*hostProcess, len(pending))
		for k, i := range pending {
			procs[k] = states[i].proc
		}
		retry, err := waitListening(ctx, procs, deadline, opts.Port == 0 && attempt < 3)
		if err != nil {
			return err
		}
		var next []int
		for _, k := range retry {
			next = append(next, pending[k])
		}
		pending = next
	}
	if err := f.writeSSHConfig(); err != nil {
		return fmt.Errorf("start test hosts: %w", err)
	}
	return nil
}

// writeSSHConfig writes the OpenSSH client configuration and known_hosts
// file of the fleet.
func (f *Fleet) writeSSHConfig() error {
	f.mu.Lock()
	hosts := slices.Clone(f.Hosts)
	f.mu.Unlock()
	knownHosts := filepath.Join(f.Base, "known_hosts")
	var config, known strings.Builder
	for _, h := range hosts {
		fmt.Fprintf(&config, "Host %s\n  HostName %s\n  Port %d\n  User root\n  IdentityFile %s\n  IdentitiesOnly yes\n"+
			"  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n  BatchMode yes\n  LogLevel ERROR\n",
			h.Name, h.Addr, h.Port, f.ClientKeyFile, knownHosts)
		fmt.Fprintf(&known, "[%s]:%d %s\n", h.Addr, h.Port, h.HostKey)
	}
	if err := os.WriteFile(knownHosts, []byte(known.String()), 0o600); err != nil {
		return err
	}
	f.SSHConfigFile = filepath.Join(f.Base, "ssh_config")
	return os.WriteFile(f.SSHConfigFile, []byte(config.String()), 0o600)
}

// prepare creates the host's folders, a new host key, and a configuration
// that authorizes the fleet's client key.
func (f *Fleet) prepare(h *Host) error {
	return f.prepareWith(h, nil, f.ClientPublicKey+"\n")
}

// prepareWith creates the host's folders and configuration, with hostKey
// (an OpenSSH private key; nil makes a new one) and authorizedKeys as
// root's authorized_keys.
func (f *Fleet) prepareWith(h *Host, hostKey []byte, authorizedKeys string) error {
	for _, dir := range []string{"nix", "run/sshd", "root/.ssh", "etc-nix", "sshd"} {
		if err := os.MkdirAll(filepath.Join(h.Root, dir), 0o755); err != nil {
			return err
		}
	}
	for dir, mode := range map[string]os.FileMode{"run/sshd": 0o755, "root": 0o700, "root/.ssh": 0o700} {
		if err := os.Chmod(filepath.Join(h.Root, dir), mode); err != nil {
			return err
		}
	}
	keyFile := filepath.Join(h.Root, "sshd", "ssh_host_ed25519_key")
	var err error
	if hostKey == nil {
		_, h.HostKey, err = writeKey(keyFile, "root@"+h.Name)
	} else {
		h.HostKey, err = writeGivenKey(keyFile, hostKey)
	}
	if err != nil {
		return fmt.Errorf("host %w", err)
	}
	files := map[string]string{
		"root/.ssh/authorized_keys": authorizedKeys,
		// No binary caches: the hosts cannot reach one, and trying costs seconds.
		"etc-nix/nix.conf": "sandbox = false\nsubstituters =\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(h.Root, name), []byte(content), 0o600); err != nil {
			return err
		}
	}
	return nil
}

func writeSSHDConfig(h Host) error { return writeSSHDConfigEnv(h, nil) }

// writeSSHDConfigEnv writes the host's sshd_config, with a SetEnv line for
// env (NAME=VALUE pairs) when there are any.
func writeSSHDConfigEnv(h Host, env []string) error {
	config := fmt.Sprintf(`# ferry test host %s
ListenAddress %s
AddressFamily inet
HostKey %s
PidFile none
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PrintMotd no
PrintLastLog no
`, h.Name, h.Address(), h.hostKeyFile())
	if h.Kind == KindDisk {
		// The installed system's root keys stand in for its configuration's
		// users.users.root.openssh.authorizedKeys: the host's own file.
		// (Its folder is under /tmp, which StrictModes would refuse.)
		config += "AuthorizedKeysFile " + h.AuthorizedKeysFile() + "\nStrictModes no\n"
	}
	if env == nil {
		env = h.Kind.env(h)
	}
	if len(env) > 0 {
		config += "SetEnv \"" + strings.Join(env, "\" \"") + "\"\n"
	}
	return os.WriteFile(filepath.Join(h.Root, "sshd", "sshd_config"), []byte(config), 0o600)
}

// freePort asks the kernel for a port that is free on addr right now.
func freePort(addr string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		return 0, fmt.Errorf("pick a port on %s: %w", addr, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// launcher starts hosts from one goroutine locked to its OS thread for the
// fleet's life: the kernel delivers Pdeathsig when the thread that forked
// exits, and Go may end a thread that another goroutine locked and left, so
// forking from an arbitrary thread could kill hosts in the middle of a test.
type launcher struct {
	reqs chan launchRequest
}

type launchRequest struct {
	host  Host
	reply chan launchReply
}

type launchReply struct {
	p   *hostProcess
	err error
}

func startLauncher() *launcher {
	l := &launcher{reqs: make(chan launchRequest)}
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for r := range l.reqs {
			p, err := launch(r.host)
			r.reply <- launchReply{p, err}
		}
	}()
	return l
}

func (l *launcher) launch(h Host) (*hostProcess, error) {
	reply := make(chan launchReply, 1)
	l.reqs <- launchRequest{h, reply}
	r := <-reply
	return r.p, r.err
}

// stop ends the launcher once every host it started has exited.
func (l *launcher) stop() { close(l.reqs) }

// launch starts the host: unshare makes the namespaces, the shell mounts the
// host's folders over /nix, /run, /root and /etc/nix, initialises the store
// (but a rescue system's) and becomes sshd (PID 1 of the host).
func launch(h Host) (*hostProcess, error) {
	q := remote.Quote
	sshdLog := h.SSHDLog()
	os.Remove(sshdLog) // a retried start must not see the old "listening" line
	steps := append(append([]string{
		"echo " + q(h.Name) + " > /proc/sys/kernel/hostname"},
		h.Kind.mounts(h)...),
		"mount --bind "+q(filepath.Join(h.Root, "boot_id"))+" /proc/sys/kernel/random/boot_id")
	if h.Kind != KindRescue { // a rescue system has no store to initialise
		steps = append(steps, "nix-store --init")
	}
	steps = append(steps, "exec "+remote.Command(sshdPath, "-D", "-f", filepath.Join(h.Root, "sshd", "sshd_config"), "-E", sshdLog))
	script := strings.Join(steps, " && ")
	startLog := filepath.Join(h.Root, "start.log")
	out, err := os.Create(startLog)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	argv := []string{"unshare", "--pid", "--fork", "--kill-child", "--mount", "--uts",
		"--mount-proc", "--propagation", "private", "--", "/bin/sh", "-c", script}
	if h.NetNS != "" {
		argv = append([]string{"ip", "netns", "exec", h.NetNS}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=/root", "LC_ALL=C"}
	// Own session (no terminal signals); killed if the test process dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run unshare: %w", err)
	}
	p := &hostProcess{name: h.Name, unshare: cmd, exited: make(chan struct{}), startLog: startLog, sshdLog: sshdLog}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// waitListening polls until every process's sshd has logged that it
// listens. The positions in procs of those whose sshd could not bind are
// returned for a retry when retryBind is set.
func waitListening(ctx context.Context, procs []*hostProcess, deadline time.Time, retryBind bool) ([]int, error) {
	var retry []int
	waiting := make([]int, len(procs))
	for k := range waiting {
		waiting[k] = k
	}
	for len(waiting) > 0 {
		var still []int
		for _, k := range waiting {
			p := procs[k]
			log, _ := os.ReadFile(p.sshdLog)
			if bytes.Contains(log, []byte("Server listening on")) {
				pid, err := childPID(p.unshare.Process.Pid)
				if err != nil {
					return nil, fmt.Errorf("start test host %s: %w", p.name, err)
				}
				p.sshdPID, p.listening = pid, true
				continue
			}
			select {
			case <-p.exited:
				if retryBind && bytes.Contains(log, []byte("Bind to port")) {
					retry = append(retry, k)
					continue
				}
				startOut, _ := os.ReadFile(p.startLog)
				return nil, fmt.Errorf("start test host %s: it stopped: %s", p.name,
					strings.TrimSpace(string(startOut)+"\n"+string(log)))
			default:
			}
			still = append(still, k)
		}
		waiting = still
		if len(waiting) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("start test hosts: sshd of %s not listening after the start timeout; see %s",
				procs[waiting[0]].name, procs[waiting[0]].sshdLog)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("start test hosts: %w", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	return retry, nil
}

// childPID is the only child of unshare: the host's PID 1, by then sshd.
func childPID(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 1 {
			return strconv.Atoi(f[0])
		}
	}
	// Kernels without CONFIG_PROC_CHILDREN: scan /proc for the parent pid.
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("find sshd of unshare %d: %w", pid, err)
	}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces, so cut after ')'.
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			return child, nil
		}
	}
	return 0, fmt.Errorf("find sshd of unshare %d: no child process", pid)
}

// Stop ends every host (SIGTERM to its sshd, PID 1 of the host, which takes
// every process of the host with it; SIGKILL to unshare only if it outlives
// that) and removes the fleet's folder. It only signals processes Start
// created, and is safe to call more than once.
func (f *Fleet) Stop() error {
	var err error
	f.stopOnce.Do(func() { err = f.stop() })
	return err
}

func (f *Fleet) stop() error {
	// The watcher may be restarting a host: let it finish, then stop all.
	close(f.stopWatch)
	<-f.watchDone
	f.mu.Lock()
	var procs []*hostProcess
	disks := map[string]string{} // loop device -> its image
	for name, st := range f.states {
		procs = append(procs, st.proc)
		if st.disk != "" {
			disks[st.disk] = filepath.Join(f.Base, name, "disk.img")
		}
	}
	watchErrs := f.watchErrs
	f.mu.Unlock()

	var wg sync.WaitGroup
	errs := make([]error, len(procs))
	for i, p := range procs {
		if p == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.stop()
		}()
	}
	wg.Wait()
	for dev, img := range disks {
		errs = append(errs, detachDisk(dev, img))
	}
	errs = append(errs, watchErrs...)
	f.launcher.stop()
	if f.Base != "" {
		if err := os.RemoveAll(f.Base); err != nil {
			errs = append(errs, fmt.Errorf("remove test hosts folder: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (p *hostProcess) stop() error {
	select {
	case <-p.exited:
		return nil // unshare was reaped: its pid is no longer ours to signal
	default:
	}
	if p.sshdPID > 0 {
		syscall.Kill(p.sshdPID, syscall.SIGTERM)
		select {
		case <-p.exited:
			return nil
		case <-time.After(3 * time.Second):
		}
	}
	// unshare ignores SIGTERM; SIGKILL takes its child along (--kill-child).
	if err := p.unshare.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop test host %s: %w", p.name, err)
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("stop test host %s: unshare (pid %d) did not exit", p.name, p.unshare.Process.Pid)
	}
}
