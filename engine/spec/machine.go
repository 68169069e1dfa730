package spec

import (
	"fmt"
	"time"
)

// Machine is one declared NixOS machine: where it runs (Target) and what
// runs on it (Modules).
type Machine struct {
	Name string
	Addr string // "machine.NAME"
	// Target says how the machine is reached.
	Target Target
	// Modules are the NixOS modules, the deployment's defaults first.
	Modules []Module
	Tags    []string
	// DependsOn lists addresses (resources or machines) deployed first.
	DependsOn []string
	// BuildOnTarget builds the system on the machine instead of locally
	// (build = "target").
	BuildOnTarget bool
	// BuildHost, when set, is the machine that builds the system
	// (build_host = ssh(...)): the derivations are copied there, built
	// there, and the target fetches the result from it.
	BuildHost *BuildHost
	// StorePath, when set, is the system itself, built elsewhere (CI):
	// the machine is not evaluated and has no modules.
	StorePath string
	// Keys are uploaded to the host over SSH, never stored in clear.
	Keys []*Key
	// Checks must pass after activation for the deploy to succeed.
	Checks []*Check
	// MagicRollback arms a watchdog on the host before switch or test:
	// unless ferry confirms over a new SSH connection within
	// ConfirmTimeout, the host switches itself back.
	MagicRollback  bool
	ConfirmTimeout time.Duration
	// RollbackOnFailure switches back to the previous system when the
	// activation or a health check fails.
	RollbackOnFailure bool
	// Flake, when set, is the flake configuration the machine's modules
	// extend (machine(flake = ".#web")); nil means nixpkgs' NixOS.
	Flake *Flake
	// Transfer says how the system's closure reaches the host
	// (machine(transfer = ...) or defaults(transfer = ...)); nil is push.
	Transfer *Transfer
	Pos      Pos
}

// Transfer modes: how a machine's closure reaches it.
const (
	// TransferPush copies the paths the host lacks over ferry's SSH
	// connection (the default).
	TransferPush = "push"
	// TransferSubstitute lets the host fetch what it can from the
	// substituters it trusts; ferry pushes the rest.
	TransferSubstitute = "substitute"
	// TransferCache uploads the closure once to a fleet binary cache
	// (Transfer.URL) that the host substitutes from; ferry pushes what
	// the host could not fetch.
	TransferCache = "cache"
)

// Transfer is a machine's transfer strategy. For TransferCache, URL is
// where ferry uploads (a gocloud.dev bucket URL: s3://, gs://, file://;
// "" when someone else fills the cache), Substituter where hosts read it
// (https://...), PublicKey the key hosts trust for that command only, and
// SecretKey the signing key: the secret itself, never written to a plan,
// state or log.
type Transfer struct {
	Mode        string
	URL         string
	Substituter string
	PublicKey   string
	SecretKey   string
	Pos         Pos
}

// BuildHost is a machine that builds others' systems: Name is how plans
// name it (a machine's name, else the host), Target how it is reached.
type BuildHost struct {
	Name   string
	Target Target
}

// Target describes how ferry reaches a machine. Kind "ssh" is an existing
// NixOS host (NixOps targetEnv "none").
type Target struct {
	Kind    string // "ssh"
	Host    string
	Port    int    // default 22
	User    string // default "root"
	HostKey string // authorized_keys form; "" = trust on first use, pinned in state
	Jump    *Target
	Sudo    bool
	// Refs holds the arguments known only after apply, by argument name
	// ("host", "port", "user", "host_key"): a Ref or a Format, as the
	// configuration wrote it (ssh(host = web.public_ip)). The plain field
	// of such an argument is left zero; resolving them (spec.Resolve) gives
	// its value. A target's references are dependencies of its machine.
	// nil when every argument is known.
	Refs map[string]any
	// Resource is the address of the resource that is the machine's host,
	// for targets that declare one (aws.ec2: its aws.instance); "" for
	// hosts ferry does not create. Its driver stops and starts the machine
	// through that resource's provider.
	Resource string
	// FromNix: the configuration gave no target, so host, port and user
	// come from the machine's deployment.targetHost, targetPort and
	// targetUser once its system is evaluated (NixOps's defaults when
	// unset: the machine's name, 22, root). The other fields are zero.
	FromNix bool
	// Install is set for install(...) targets (Kind "install"): the
	// host is reached as its ssh(...) says, and NixOS is installed onto
	// it first (nil for every other kind).
	Install *Install
	// Defaults names the arguments left to ferry's defaults ("port",
	// "user"): the configuration did not give them, so the user's SSH
	// client configuration may (cmd/ferry/cli/sshconfig.go).
	Defaults []string
	Pos      Pos
}

// Module is one NixOS module: a file or inline Nix text, with extra
// arguments passed to it (which may contain Ref).
type Module struct {
	Path   string // absolute path of a .nix file; "" for inline
	Inline string
	Args   map[string]any
	Pos    Pos
}

// MachineByName finds a declared machine.
func (c *Config) MachineByName(name string) *Machine {
	for _, m := range c.Machines {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Key is a secret uploaded to a machine (NixOps deployment.keys). Exactly
// one of Text, File and Command is set. The secret itself never enters a
// plan, the state or a log: the engine reads it, hashes it (KeyHash) and
// uploads it over SSH.
type Key struct {
	Name    string
	Text    string   // the secret itself
	File    string   // absolute path of a file holding it, read by ferry
	Command []string // argv run on the deployer at apply time; its stdout is the secret
	// DestDir, User, Group and Permissions say where and how it lands on
	// the host (defaults /run/keys, root, root, 0600).
	DestDir     string
	User        string
	Group       string
	Permissions string
	// UploadAt is "pre-activation" (default) or "post-activation".
	UploadAt string
	// FromNix: the key is the machine's deployment.keys.<Name> (NixOps,
	// Colmena), not declared in the configuration.
	FromNix bool
	Pos     Pos
}

// NixKeySource prefixes the Source of keys from deployment.keys.
const NixKeySource = "deployment.keys "

// Source names where the key's content comes from, without revealing it:
// "text", "file PATH" or "command ARGV0", after NixKeySource for a key
// from deployment.keys.
func (k *Key) Source() string {
	src := "text"
	switch {
	case k.File != "":
		src = "file " + k.File
	case len(k.Command) > 0:
		src = "command " + k.Command[0]
	}
	if k.FromNix {
		return NixKeySource + src
	}
	return src
}

// Check is a health check of a machine: a command run on the host
// (Kind "cmd") or an HTTP request made from the deployer (Kind "http").
type Check struct {
	Kind     string // "cmd" or "http"
	Cmd      string
	URL      string
	Status   int // wanted HTTP status (default 200)
	Timeout  time.Duration
	Retries  int // attempts after the first failed one
	Interval time.Duration
	Pos      Pos
}

// Describe is how plans and messages name the check.
func (c *Check) Describe() string { return DescribeCheck(c.Kind, c.Cmd, c.URL, c.Status) }

// DescribeCheck names a health check the one way ferry names it, in
// configurations, plans and messages alike.
func DescribeCheck(kind, cmd, url string, status int) string {
	if kind == "http" {
		return fmt.Sprintf("http %s (status %d)", url, status)
	}
	return "cmd " + cmd
}

// Rollout is a rolling deployment policy: machines (all, or those with
// one of Tags) are activated in batches of Batch machines (or BatchPercent
// percent of them, rounded up); the next batch starts only while the
// failures so far are at most MaxFailures, after Pause.
type Rollout struct {
	Batch        int
	BatchPercent int
	MaxFailures  int
	Pause        time.Duration
	Tags         []string
	Pos          Pos
}

// Flake is a NixOS configuration of a flake: nixosConfigurations.<Attr>
// of the flake in the folder Dir, which evaluation extends with the
// machine's modules.
type Flake struct {
	Dir  string // absolute path of the folder holding flake.nix and flake.lock
	Attr string // "web"
}

// FlakeInput is an input of a flake, as its flake.lock pins it.
type FlakeInput struct {
	Dir   string `json:"dir"`   // absolute path of the folder holding flake.nix and flake.lock
	Input string `json:"input"` // "nixpkgs"
}

// Install is how an install(...) target installs NixOS onto its host
// (nixos-anywhere style): boot the NixOS kexec installer, partition and
// format the disks from the machine's disko layout, install, reboot.
type Install struct {
	// Kexec is "auto" (boot the kexec installer unless the host runs one:
	// /etc/os-release VARIANT_ID=installer), "always" or "never".
	Kexec string
	// KexecImage is a path or URL of the kexec installer tarball; "" is
	// the one nixos-images publishes for the host's architecture.
	KexecImage string
	// Phases are the steps to run, in this order: some of "kexec",
	// "disko", "install", "reboot".
	Phases []string
	// MinMemory is the least memory in bytes the host must have.
	MinMemory int64
	// HostKeyFile is a file holding the OpenSSH ed25519 private key the
	// installed system gets (relative to the configuration folder); ""
	// lets ferry generate one.
	HostKeyFile string
}

// InstallPhases are the phases of an install, in order.
var InstallPhases = []string{"kexec", "disko", "install", "reboot"}
