package cli

import (
	"context"
	"fmt"
	"github.com/nixferry/ferry/providers/nix"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/statestore"
	"github.com/nixferry/ferry/engine/statestore/sealed"
	"github.com/nixferry/ferry/lang"
	"github.com/nixferry/ferry/providers"
	awsprovider "github.com/nixferry/ferry/providers/aws"
	"github.com/nixferry/ferry/providers/checked"
	"github.com/nixferry/ferry/providers/local"
	"github.com/nixferry/ferry/providers/null"
	timeprovider "github.com/nixferry/ferry/providers/time"
	"github.com/nixferry/ferry/remote"

	// Keepers for --state-secrets, registered on gocloud's default
	// secrets URL mux (as main.go does for the blob drivers).
	_ "gocloud.dev/secrets/awskms"
	_ "gocloud.dev/secrets/gcpkms"
	_ "gocloud.dev/secrets/hashivault"
	_ "gocloud.dev/secrets/localsecrets"
)

// CLI is the whole command line.
type CLI struct {
	Globals

	Validate     ValidateCmd     `cmd:"" help:"Load and check the configuration (no state access)."`
	Plan         PlanCmd         `cmd:"" help:"Show what apply would do and write the plan file."`
	Apply        ApplyCmd        `cmd:"" help:"Apply a saved plan, or plan and ask."`
	Show         ShowCmd         `cmd:"" help:"Render a plan file or the current state."`
	Destroy      DestroyCmd      `cmd:"" help:"Plan and apply the deletion of everything."`
	Delete       DeleteCmd       `cmd:"" help:"Delete a deployment without resources or machines from the state store."`
	Output       OutputCmd       `cmd:"" help:"Print the outputs of the last apply."`
	Graph        GraphCmd        `cmd:"" help:"Print the dependency graph (DOT)."`
	State        StateCmd        `cmd:"" help:"Inspect and repair state."`
	Unlock       UnlockCmd       `cmd:"" help:"Break a state lock held by a run that is gone."`
	List         ListCmd         `cmd:"" help:"List the deployments in the state store."`
	ImportNixops ImportNixopsCmd `cmd:"" name:"import-nixops" help:"Import the state of a NixOps deployment (nixops export output)."`
	Version      VersionCmd      `cmd:"" help:"Print ferry's version."`
	Docs         DocsCmd         `cmd:"" hidden:"" help:"Write the reference of ferry.star's builtins and resources (docs/reference.md)."`

	Completion CompletionCmd `cmd:"" help:"Print a shell completion script: eval \"$(ferry completion bash)\", ferry completion fish | source, or into zsh's fpath as _ferry."`
	Complete   CompleteCmd   `cmd:"" name:"__complete" hidden:"" help:"Answer a completion script (hidden)."`

	SSH         SSHCmd         `cmd:"" name:"ssh" help:"Open a shell on a machine, or run one command there (after --)."`
	Scp         ScpCmd         `cmd:"" name:"scp" help:"Copy files to or from a machine: ferry scp [-r] SRC DST, one of them MACHINE:PATH."`
	Exec        ExecCmd        `cmd:"" help:"Run a command on machines in parallel, output prefixed by machine."`
	Info        InfoCmd        `cmd:"" help:"Show each machine's target, deployed and running system, and status."`
	Check       CheckCmd       `cmd:"" help:"Check machines for drift and failed systemd units."`
	Generations GenerationsCmd `cmd:"" help:"List a machine's system generations."`
	Rollback    RollbackCmd    `cmd:"" help:"Switch a machine to an earlier system generation and record it."`
	Keys        KeysCmd        `cmd:"" help:"Upload the machines' keys (secrets)."`
	Stop        StopCmd        `cmd:"" help:"Stop the cloud instances of machines (aws.ec2); their disks stay."`
	Start       StartCmd       `cmd:"" help:"Start stopped cloud instances of machines, wait for SSH, upload their keys."`
	Reboot      RebootCmd      `cmd:"" help:"Reboot machines, wait for the new boot, upload their keys, run their checks."`
	CheckHealth CheckHealthCmd `cmd:"" name:"check-health" help:"Run the machines' health checks now."`
	HostKey     HostKeyCmd     `cmd:"" name:"host-key" help:"Pin machines' SSH host keys."`
	Taint       TaintCmd       `cmd:"" help:"Mark a resource so that the next plan replaces it."`
	Untaint     UntaintCmd     `cmd:"" help:"Clear a resource's taint."`
	Import      ImportCmd      `cmd:"" help:"Adopt an existing object as a declared resource."`
}

// Globals are the flags every command takes.
type Globals struct {
	Chdir       string            `short:"C" name:"chdir" default:"." placeholder:"DIR" help:"Configuration directory; relative file paths given on the command line (plan files, --out, --var-file, --ssh-key, --ssh-config) are taken from it, as with terraform -chdir."`
	File        string            `short:"f" name:"file" default:"ferry.star" placeholder:"FILE" help:"Entry file, relative to the configuration directory."`
	Deployment  string            `short:"d" name:"deployment" placeholder:"NAME" help:"Deployment (default: deployment(name=...) in the config, else \"default\")."`
	State       string            `name:"state" env:"FERRY_STATE" placeholder:"URL" help:"State store: file:///dir, s3://bucket, gs://bucket, mem:// (default: file://DIR/.ferry)."`
	Var         map[string]string `name:"var" placeholder:"K=V" help:"Set a configuration variable (repeatable); also FERRY_VAR_<name>."`
	VarFile     []string          `name:"var-file" placeholder:"FILE" help:"Set configuration variables from a JSON object or a .star file's globals (repeatable, later files win; --var wins over them, they win over FERRY_VAR_<name>; relative to -C DIR)."`
	LockTimeout time.Duration     `name:"lock-timeout" default:"0s" help:"How long to wait for a held state lock."`
	NoColor     bool              `name:"no-color" env:"NO_COLOR" help:"Plain output."`
	Verbose     bool              `short:"v" name:"verbose" help:"Show Nix's full log while it evaluates and builds: every message, and every build's log lines."`
	SSHConfig   string            `name:"ssh-config" env:"FERRY_SSH_CONFIG" placeholder:"FILE" help:"OpenSSH client configuration whose HostName, User, Port, IdentityFile and ProxyJump apply to machines (default: ~/.ssh/config; none: read none). Values given in ssh() win."`
	SSHKey      []string          `name:"ssh-key" env:"FERRY_SSH_KEY" placeholder:"FILE" help:"SSH private key for machines (repeatable; default: ssh-agent and ~/.ssh/id_*)."`
	// StateSecrets are keeper URLs (package sealed): the first seals,
	// every one opens; "none" first writes in clear.
	StateSecrets []string `name:"state-secrets" env:"FERRY_STATE_SECRETS" sep:"," placeholder:"URL" help:"Encrypt state, plan keys and sensitive plan values with this key: base64key://KEY, awskms://KEY_ID, gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K, hashivault://KEY. More keys after a comma only decrypt (rotation: NEW,OLD); none,OLD writes in clear (turning encryption off)."`
}

// App is what every command's Run receives: streams, flags and wiring.
type App struct {
	IO
	*Globals
	ctx   context.Context // cancelled on the first interrupt
	opCtx context.Context // cancelled on the second
	// extraProviders are registered beside the built-in ones (MainWith).
	extraProviders []providers.Provider
	// sshConf is the SSH client configuration once read; sshIdentities
	// its IdentityFiles for the machines loaded (sshconfig.go).
	sshConf       *remote.SSHConfig
	sshIdentities []string
	warned        map[string]bool // warnOnce
}

// Dir is the absolute configuration directory.
func (a *App) Dir() (string, error) {
	d, err := filepath.Abs(a.Chdir)
	if err != nil {
		return "", fmt.Errorf("configuration directory %s: %w", a.Chdir, err)
	}
	return d, nil
}

// path is the file path p given on the command line, relative to the
// configuration directory (-C) when it is relative: `ferry -C infra plan
// --out plan.json` writes infra/plan.json, as terraform -chdir=infra
// does. "~/..." is under $HOME (a shell leaves --flag=~/x alone); "",
// "-" and absolute paths are returned as they are.
func (a *App) path(p string) string {
	if home, ok := a.home(); ok && (p == "~" || strings.HasPrefix(p, "~/")) {
		return filepath.Join(home, p[1:])
	}
	if p == "" || p == "-" || filepath.IsAbs(p) {
		return p
	}
	dir, err := a.Dir()
	if err != nil {
		return p
	}
	return filepath.Join(dir, p)
}

// home is $HOME as LookupEnv sees it.
func (a *App) home() (string, bool) {
	if a.LookupEnv == nil {
		return "", false
	}
	h, ok := a.LookupEnv("HOME")
	return h, ok && h != ""
}

// paths is path for each of ps; nil for nil (no --ssh-key means the
// default keys, not none).
func (a *App) paths(ps []string) []string {
	if ps == nil {
		return nil
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = a.path(p)
	}
	return out
}

// keyFiles are the --ssh-key files, taken from -C DIR; nil when none is
// given, which means the default keys and ssh-agent (remote.Options).
func (a *App) keyFiles() []string {
	if len(a.SSHKey) == 0 {
		return nil
	}
	return a.paths(a.SSHKey)
}

// ferryCmd is how to run ferry again on this configuration, for the
// commands ferry suggests: "ferry", or "ferry -C DIR".
func (a *App) ferryCmd() string {
	if a.Chdir == "" || a.Chdir == "." {
		return "ferry"
	}
	return "ferry -C " + remote.Quote(a.Chdir)
}

// Registry wires the providers explicitly.
func (a *App) Registry(dir string) (*providers.Registry, error) {
	return NewRegistry(dir, a.extraProviders...)
}

// NewRegistry returns every built-in provider, for a configuration in dir,
// and extra ones (tests add providers/fakecloud), each wrapped in the
// runtime checker that names a provider breaking the contract. Providers
// are registered here, explicitly, and nowhere else.
func NewRegistry(dir string, extra ...providers.Provider) (*providers.Registry, error) {
	ps := append([]providers.Provider{null.Provider(), timeprovider.Provider(), local.Provider(dir), awsprovider.New()}, extra...)
	for i, p := range ps {
		ps[i] = checked.WrapProvider(p)
	}
	return providers.NewRegistry(ps...)
}

// LoadConfig evaluates the configuration.
func (a *App) LoadConfig() (*spec.Config, error) {
	dir, err := a.Dir()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, a.File)); err != nil {
		return nil, fmt.Errorf("no configuration: %s not found in %s; create it or pass -C DIR / -f FILE", a.File, dir)
	}
	reg, err := a.Registry(dir)
	if err != nil {
		return nil, err
	}
	cfg, err := lang.Load(a.ctx, lang.Options{
		Dir:       dir,
		File:      a.File,
		Vars:      a.Var,
		VarFiles:  a.paths(a.VarFile),
		LookupEnv: a.LookupEnv,
		Schemas:   reg.Schemas(),
		Providers: LangProviders(reg),
		EvalNix: func(expr string) ([]byte, error) {
			return nix.Nix{}.EvalJSON(a.ctx, expr)
		},
	})
	if err != nil {
		return nil, err
	}
	if err := a.applySSHConfig(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// LangProviders tells lang which providers take a configuration
// (NAME.provider(...)).
func LangProviders(reg *providers.Registry) []lang.ProviderSchema {
	var out []lang.ProviderSchema
	for _, p := range reg.Providers() {
		out = append(out, lang.ProviderSchema{Name: p.Name(), Config: p.ConfigSchema()})
	}
	return out
}

// DeploymentFor picks the deployment: -d, then the config's, then "default".
func (a *App) DeploymentFor(cfg *spec.Config) string {
	switch {
	case a.Deployment != "":
		return a.Deployment
	case cfg != nil && cfg.Deployment != "":
		return cfg.Deployment
	default:
		return "default"
	}
}

// StateURL is --state, FERRY_STATE, or file://DIR/.ferry.
func (a *App) StateURL() (string, error) {
	if a.State != "" {
		return a.State, nil
	}
	dir, err := a.Dir()
	if err != nil {
		return "", err
	}
	return "file://" + filepath.ToSlash(filepath.Join(dir, ".ferry")), nil
}

// OpenStore opens the state store, with the --state-secrets keys.
func (a *App) OpenStore() (*statestore.Store, error) {
	u, err := a.StateURL()
	if err != nil {
		return nil, err
	}
	keys, err := sealed.OpenKeys(a.ctx, a.StateSecrets)
	if err != nil {
		return nil, err
	}
	return statestore.Open(a.ctx, u, statestore.WithSecrets(keys)) // the store owns keys
}

// Engine wires an engine with the store, an event sink and ferry's own
// SSH (one reused connection per host). Call the returned func when done.
func (a *App) Engine(store *statestore.Store, dir string, events func(engine.Event)) (*engine.Engine, func(), error) {
	reg, err := a.Registry(dir)
	if err != nil {
		return nil, nil, err
	}
	opts, err := a.dialerOptions(remote.Options{KeyFiles: a.keyFiles()})
	if err != nil {
		return nil, nil, err
	}
	dialer := remote.NewDialer(opts)
	eng := &engine.Engine{Providers: reg, Store: store, Version: Version, Events: events, SSH: dialer, SSHConfig: a.nixTargetSSHConfig}
	return eng, func() { _ = dialer.Close() }, nil
}

// VersionCmd prints the version.
type VersionCmd struct{}

// Run prints the version.
func (c *VersionCmd) Run(a *App) error {
	fmt.Fprintf(a.Stdout, "ferry %s\n", Version)
	return nil
}

// confirm asks the user to type "yes".
func (a *App) confirm(question string) (bool, error) {
	fmt.Fprintf(a.Stdout, "\n%s\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ", question)
	var answer string
	_, err := fmt.Fscanln(a.Stdin, &answer)
	if err != nil && err.Error() != "unexpected newline" {
		return false, fmt.Errorf("no answer on standard input (%v): pass --auto-approve to apply without asking", err)
	}
	fmt.Fprintln(a.Stdout)
	return strings.TrimSpace(answer) == "yes", nil
}
