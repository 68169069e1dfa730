package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/nixferry/ferry/engine/spec"
	"sort"
	"strings"
	"time"
)

// FormatVersion is the version of the plan file format this ferry writes.
// Version 2 records the plan-time options and signs the plan body.
const FormatVersion = 2

// Action is what apply does to one resource.
type Action string

const (
	Create  Action = "create"
	Update  Action = "update"
	Replace Action = "replace"
	Delete  Action = "delete"
	Noop    Action = "noop"
	// Import adopts an existing object (import_id, `ferry import`); when
	// its attributes differ from the configuration's, apply then updates
	// it in place.
	Import Action = "import"
)

// Plan is a reviewed unit of work.
type Plan struct {
	FormatVersion int       `json:"format_version"`
	FerryVersion  string    `json:"ferry_version"`
	Deployment    string    `json:"deployment"`
	CreatedAt     time.Time `json:"created_at"`
	// Options are the choices made at plan time that change what apply
	// does; apply takes them from here and nowhere else.
	Options Options `json:"options"`

	// State is the snapshot the plan was computed against; apply refuses
	// the plan when the state has moved on.
	State StateRef `json:"state"`
	// Inputs digests everything evaluation read.
	Inputs Inputs `json:"inputs"`

	// Providers are the provider configurations the plan's resources use,
	// sorted by key: apply configures exactly these.
	Providers []*Provider `json:"providers,omitempty"`
	Resources []*Resource `json:"resources"`          // sorted by address
	Machines  []*Machine  `json:"machines,omitempty"` // sorted by address
	// Nixpkgs is the nixpkgs the machines were evaluated with.
	Nixpkgs string `json:"nixpkgs,omitempty"`
	// NixpkgsFlake, when set, is the flake input nixpkgs came from
	// instead (nixpkgs(flake = ..., input = ...)).
	NixpkgsFlake *spec.FlakeInput `json:"nixpkgs_flake,omitempty"`
	// TagMatches names, for each tag pattern of Options.On and Exclude
	// ("@web"), the machines whose tags it matched, deployment.tags
	// included; nil without tag patterns.
	TagMatches map[string][]string `json:"tag_matches,omitempty"`
	// Rollout is the rolling policy with the batches apply follows.
	Rollout *Rollout  `json:"rollout,omitempty"`
	Outputs []*Output `json:"outputs,omitempty"`
	// Edges are execution edges between resource addresses: [from, to]
	// means from completes before to starts. Sorted.
	Edges [][2]string `json:"edges"`
	// Signature is "hmac-sha256:<hex>" over the plan body (the file with
	// an empty signature), keyed by the deployment's plan key, which is
	// kept in the state store and never in a plan. Apply refuses a plan
	// whose signature does not match: an edited plan is never applied.
	Signature string `json:"signature,omitempty"`

	// Encoded is the signed file as Sign encoded it (File); not part of
	// the plan's content.
	Encoded SignedFile `json:"-"`
}

// SignedFile holds a signed plan's file bytes. Plans that differ only in
// it are equal (its Equal method), as go-cmp compares them.
type SignedFile struct{ b []byte }

// Equal reports true: the bytes are a cache of the plan's content.
func (SignedFile) Equal(SignedFile) bool { return true }

// Options are the plan-time choices (command-line flags) that change what
// apply does. Flags that only shape how apply runs (--parallelism, the
// concurrency limits, the output format) are not here: apply takes those.
type Options struct {
	Destroy bool     `json:"destroy,omitempty"`
	Targets []string `json:"targets,omitempty"`
	Replace []string `json:"replace,omitempty"`
	// On and Exclude select machines (NAME, machine.NAME, @TAG, globs).
	On      []string `json:"on,omitempty"`
	Exclude []string `json:"exclude,omitempty"`
	// Activate is switch-to-configuration's action for every deployed
	// machine: switch, boot, test or dry-activate.
	Activate string `json:"activate"`
	// Reboot is the reboot policy: never, if-needed or always.
	Reboot string `json:"reboot"`
	// Refresh says whether real objects and hosts were read for drift.
	Refresh bool `json:"refresh"`
	// Vars names the variables given on the command line (their values
	// are in Inputs.Vars, as keyed digests).
	Vars []string `json:"vars,omitempty"`
}

// Describe renders the options that differ from the defaults, as the plan
// shows them: "activation: dry-activate, on: web1". "" when all are
// defaults.
func (o Options) Describe() string {
	var parts []string
	if o.Destroy {
		parts = append(parts, "destroy")
	}
	if o.Activate != "" && o.Activate != "switch" {
		parts = append(parts, "activation: "+o.Activate)
	}
	if o.Reboot != "" && o.Reboot != "never" {
		parts = append(parts, "reboot: "+o.Reboot)
	}
	for _, l := range []struct {
		name string
		vals []string
	}{{"on", o.On}, {"exclude", o.Exclude}, {"target", o.Targets}, {"replace", o.Replace}, {"vars", o.Vars}} {
		if len(l.vals) > 0 {
			parts = append(parts, l.name+": "+strings.Join(l.vals, ", "))
		}
	}
	if !o.Refresh {
		parts = append(parts, "refresh: false")
	}
	return strings.Join(parts, ", ")
}

// Provider is one provider configuration: NAME.provider(...) as
// configured (credentials are never in it: they come from the
// environment at plan and at apply).
type Provider struct {
	Key        string         `json:"key"` // "aws" or "aws.eu"
	Name       string         `json:"name"`
	Alias      string         `json:"alias,omitempty"`
	Config     map[string]any `json:"config,omitempty"`
	DeclaredAt string         `json:"declared_at,omitempty"`
}

// StateRef identifies a state snapshot.
type StateRef struct {
	Lineage string `json:"lineage"`
	Serial  uint64 `json:"serial"`
}

// Inputs records the digest of every input of the evaluation.
type Inputs struct {
	// Digest is the sha256 over Files and Vars, "sha256:<hex>".
	Digest string `json:"digest"`
	// Files maps config-relative paths to the sha256 of their content.
	Files map[string]string `json:"files"`
	// Vars maps var names to a keyed digest (HMAC with the deployment's
	// plan key) of name and value: values may be secret.
	Vars map[string]string `json:"vars,omitempty"`
	// Nixpkgs pins the nixpkgs the machines were evaluated with: its store
	// path, or a digest of a checkout's files ("sha256:..."), or for a
	// flake input the NAR hash its flake.lock records ("flake input
	// nixpkgs sha256-..."); "" when the plan has no machine, or only
	// machines from flakes (their flake.lock is among Files).
	Nixpkgs string `json:"nixpkgs,omitempty"`
}

// Resource is the planned change of one resource.
type Resource struct {
	Addr   string `json:"address"`
	Type   string `json:"type"`
	Action Action `json:"action"`
	// Reason says why, when it is not obvious: "drift: deleted outside
	// ferry", "requested with --replace", "not in configuration".
	Reason string `json:"reason,omitempty"`
	// Before is the prior state (nil for create), After the planned
	// attributes (nil for delete), Unknown leaves encoded.
	Before map[string]any `json:"before,omitempty"`
	After  map[string]any `json:"after,omitempty"`
	// ReplaceBecause lists the attributes that force a replacement.
	ReplaceBecause []string `json:"replace_because,omitempty"`
	// Downtime, for an update in place that interrupts the object, says
	// how ("stops the instance to change instance_type ..., then starts
	// it"): the provider's PlanResponse.Downtime, shown in the plan.
	Downtime string `json:"downtime,omitempty"`
	// Args are the configured arguments with references, resolved by
	// apply against the results of the resources they reference.
	Args map[string]any `json:"args,omitempty"`
	// Deps are the direct dependencies recorded in state after apply.
	Deps       []string `json:"deps,omitempty"`
	DeclaredAt string   `json:"declared_at,omitempty"`
	// Provider is the key of the provider configuration ("aws.eu"); ""
	// for the type's provider's default configuration.
	Provider string `json:"provider,omitempty"`
	// ImportID is the ID of the object an import adopts.
	ImportID string `json:"import_id,omitempty"`
	// Token is the idempotency token of a create (or a replacement's
	// create): apply journals it before the call and passes it on.
	Token string `json:"token,omitempty"`
	// CreateBeforeDestroy: a replacement creates the new object first.
	CreateBeforeDestroy bool `json:"create_before_destroy,omitempty"`
	// Timeouts bound apply's call ("20m"); "" for the provider's own.
	Timeouts *Timeouts `json:"timeouts,omitempty"`
	// Sensitive lists the attributes shown as (sensitive).
	Sensitive []string `json:"sensitive,omitempty"`
	// DeleteDeposed holds the attributes of an old object a
	// create-before-destroy replacement left: apply deletes it.
	DeleteDeposed map[string]any `json:"delete_deposed,omitempty"`
	// SchemaVersion is the schema version apply records.
	SchemaVersion int `json:"schema_version,omitempty"`
}

// Timeouts are a resource's operation timeouts, as durations.
type Timeouts struct {
	Create string `json:"create,omitempty"`
	Update string `json:"update,omitempty"`
	Delete string `json:"delete,omitempty"`
}

// ProviderKey is the key of r's provider configuration.
func (r *Resource) ProviderKey() string {
	if r.Provider != "" {
		return r.Provider
	}
	return spec.ProviderName(r.Type)
}

// Output is a declared output with its value expression.
type Output struct {
	Name      string `json:"name"`
	Value     any    `json:"value"`
	Sensitive bool   `json:"sensitive,omitempty"`
	// Withheld: the value of this sensitive output is not in the plan
	// (no sealing key, plan.Seal); apply takes it from the configuration
	// (FillWithheld).
	Withheld   bool   `json:"withheld,omitempty"`
	DeclaredAt string `json:"declared_at,omitempty"`
}

// Machine actions.
const (
	Deploy     Action = "deploy"      // build, copy, activate
	UploadKeys Action = "upload-keys" // the system is unchanged, only keys change: upload them
	Forget     Action = "forget"      // no longer in the configuration: forget it, leave the host alone
	// Deferred: the machine's system depends on a value known only after
	// this plan is applied (a module argument that refers to a resource
	// created or changed here), so it is not evaluated now; Reason names
	// the reference. Apply leaves it alone; the next plan (a plan-less
	// `ferry apply` makes it in the same run) deploys it.
	Deferred Action = "deferred"
	// Stopped: the machine's host is a cloud instance that is stopped
	// (`ferry stop`, or outside ferry), as the plan's refresh read its
	// "state" attribute. Apply leaves it alone, whatever changed in its
	// system: starting it is a decision of its own (`ferry start`), after
	// which the next plan deploys it. Reason says so.
	Stopped Action = "stopped"
)

// Runs reports whether apply does anything for a machine of action a.
func (a Action) Runs() bool { return a != Noop && a != Deferred && a != Stopped }

// Machine is the planned deployment of one NixOS machine. Apply builds,
// copies and activates exactly Drv/Path; it never evaluates again.
type Machine struct {
	Name   string `json:"name"`
	Addr   string `json:"address"`
	Action Action `json:"action"` // deploy, upload-keys, noop, forget, deferred, stopped
	Reason string `json:"reason,omitempty"`
	// Target is how the host is reached. Arguments known only after
	// apply (a target that comes from a resource created in this plan)
	// are in Target.Refs.
	Target Target `json:"target"`
	// Drv and Path are the pinned toplevel derivation and output.
	Drv  string `json:"drv,omitempty"`
	Path string `json:"path,omitempty"`
	// Previous is the system ferry deployed last (from state); Current is
	// what the host ran when the plan was made ("" when not read).
	Previous string `json:"previous,omitempty"`
	Current  string `json:"current,omitempty"`
	// CurrentRead tells whether Current was read from the host; apply
	// refuses the host when it has changed since.
	CurrentRead bool `json:"current_read,omitempty"`
	// Pending explains a switch that an interrupted ferry run left
	// unconfirmed on the host (its rollback watchdog still waits): the
	// deploy settles it.
	Pending  string `json:"pending,omitempty"`
	Activate string `json:"activate,omitempty"` // switch, boot, test, dry-activate
	// Packages is the package-level difference from Previous (or Current).
	Packages      *PackageDiff `json:"packages,omitempty"`
	BuildOnTarget bool         `json:"build_on_target,omitempty"`
	// FastConnection is the machine's deployment.hasFastConnection
	// (NixOps: true copies everything from the deployer, false lets the
	// host fetch what it can from its substituters). Apply pushes what the
	// host lacks from the deployer over SSH in both cases, the one transfer
	// ferry has; it is recorded for choosing a transfer strategy.
	FastConnection bool `json:"fast_connection,omitempty"`
	// AlwaysActivate is the machine's deployment.alwaysActivate: it is
	// deployed (activated) even when its system is unchanged.
	AlwaysActivate bool `json:"always_activate,omitempty"`
	// BuildHost is the machine that builds the system (build_host); the
	// target fetches it from there. nil: built here, or on the target.
	BuildHost *BuildHost `json:"build_host,omitempty"`
	// SystemGiven is set for a system given by store_path, not evaluated
	// (Drv is empty): where apply gets it from, SystemLocal,
	// SystemSubstitute or SystemOnHost.
	SystemGiven string `json:"system_given,omitempty"`
	// Transfer is how the closure reaches the host; nil is push.
	Transfer *Transfer `json:"transfer,omitempty"`
	// Keys are uploaded over SSH; the plan holds only their hashes.
	Keys []*Key `json:"keys,omitempty"`
	// Checks run after activation; the deploy succeeds when they pass.
	Checks []*Check `json:"checks,omitempty"`
	// MagicRollback: a watchdog on the host switches back unless ferry
	// confirms over a new SSH connection within ConfirmTimeout.
	MagicRollback     bool   `json:"magic_rollback,omitempty"`
	ConfirmTimeout    string `json:"confirm_timeout,omitempty"`
	RollbackOnFailure bool   `json:"rollback_on_failure,omitempty"`
	// Reboot says whether the new system needs a reboot (kernel, initrd
	// or kernel modules differ from the booted system's) and whether
	// apply reboots.
	Reboot *Reboot `json:"reboot,omitempty"`
	// Install, for a machine of an install(...) target that is not
	// installed yet (or --replace), is the install that deploys it: the
	// disks it wipes and the host's facts the plan was made against.
	Install *Install `json:"install,omitempty"`
	// Batch is the machine's rollout batch, from 1; 0 when not rolled out.
	Batch int      `json:"batch,omitempty"`
	Tags  []string `json:"tags,omitempty"`
	// TagsFrom is "deployment.tags" when the configuration gave no tags
	// and the machine's modules did.
	TagsFrom   string   `json:"tags_from,omitempty"`
	Deps       []string `json:"deps,omitempty"`
	DeclaredAt string   `json:"declared_at,omitempty"`
}

// BuildHost is where a machine's system is built when it is neither the
// deployer nor the target: Name as the configuration named it, Target
// with the build host's key pinned (configured, or recorded by an earlier
// apply; "" is trusted on first use and recorded).
type BuildHost struct {
	Name   string `json:"name"`
	Target Target `json:"target"`
}

// Where a system given by store path comes from (Machine.SystemGiven).
const (
	SystemLocal      = "local"      // this machine's Nix store: pushed to the host
	SystemSubstitute = "substitute" // the host fetches it from its substituters
	SystemOnHost     = "host"       // the host has it already
)

// BuiltLocally reports whether apply builds m's system on this machine
// (with Nix's remote builders): not on the target, not on a build host,
// not given by store path.
func (m *Machine) BuiltLocally() bool {
	return m.Drv != "" && !m.BuildOnTarget && m.BuildHost == nil
}

// Transfer is a machine's transfer strategy (spec.Transfer) as the plan
// records it: never the secret key, which apply reads from the
// configuration again and checks against PublicKey.
type Transfer struct {
	// Mode is "push", "substitute" or "cache" (spec.TransferPush, ...).
	Mode string `json:"mode"`
	// URL is where ferry uploads the closure (cache mode; "" when someone
	// else fills the cache), Substituter where the host reads it, and
	// PublicKey the key the host trusts for that command only.
	URL         string `json:"url,omitempty"`
	Substituter string `json:"substituter,omitempty"`
	PublicKey   string `json:"public_key,omitempty"`
}

// String describes the strategy as the plan shows it per host: "push",
// "substitute, then push the rest", "cache s3://fleet (substituter
// https://...)".
func (t *Transfer) String() string {
	switch {
	case t == nil || t.Mode == "push":
		return "push"
	case t.Mode == "substitute":
		return "substitute from the host's substituters, then push the rest"
	case t.URL == "":
		return fmt.Sprintf("cache (substituter %s; filled by someone else)", t.Substituter)
	}
	return fmt.Sprintf("cache %s (substituter %s)", t.URL, t.Substituter)
}

// Target is how apply reaches a machine.
type Target struct {
	// Kind names the target driver (engine/target): "ssh"; "" is ssh too
	// (plans written before kinds were recorded).
	Kind    string  `json:"kind,omitempty"`
	Host    string  `json:"host"`
	Port    int     `json:"port"`
	User    string  `json:"user"`
	HostKey string  `json:"host_key,omitempty"` // pinned: from config, state, or seen at plan time
	Jump    *Target `json:"jump,omitempty"`
	Sudo    bool    `json:"sudo,omitempty"`
	// Refs holds the arguments known only after apply, by name ("host",
	// "port", "user", "host_key"): the reference or format() value as the
	// configuration wrote it (spec.Ref, spec.Format), whose resource is
	// created or changed by this plan. Their plain fields are zero here;
	// apply resolves them from its own results (or from state), checks
	// them, and only then connects. The file holds them encoded as
	// spec.Encode writes values. nil when every argument is known.
	Refs map[string]any `json:"refs,omitempty"`
	// Resource is the address of the resource that is the machine's host
	// (spec.Target.Resource); "" for hosts ferry does not create.
	Resource string `json:"resource,omitempty"`
	// From says where host, port and user came from when the
	// configuration gave no target (spec.Target.FromNix): the Nix options
	// that set them, or NixOps's defaults ("host from
	// deployment.targetHost, port 22 (default), user root (default)").
	From string `json:"from,omitempty"`
}

// String is user@host:port, as state records a machine's target.
func (t Target) String() string { return fmt.Sprintf("%s@%s:%d", t.User, t.Host, t.Port) }

// Known reports whether every argument of t and of its jump host is
// known: no Refs are left to resolve.
func (t Target) Known() bool {
	return len(t.Refs) == 0 && (t.Jump == nil || t.Jump.Known())
}

// targetFile is Target's file form: Refs encoded (spec.Encode).
type targetFile Target

// MarshalJSON writes t with its references in their encoded form.
func (t Target) MarshalJSON() ([]byte, error) {
	f := targetFile(t)
	f.Refs = spec.EncodeMap(t.Refs)
	return json.Marshal(f)
}

// UnmarshalJSON reads what MarshalJSON writes: numbers as json.Number and
// references decoded, unknown fields refused (as Decode refuses them).
func (t *Target) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var f targetFile
	if err := dec.Decode(&f); err != nil {
		return err
	}
	f.Refs = spec.DecodeMap(f.Refs)
	*t = Target(f)
	return nil
}

// Key is a planned key upload. The secret never appears here: Hash is
// "sha256:..." of the destination and content, "" for a key from a
// command (its output is only known at apply).
type Key struct {
	Name        string `json:"name"`
	Dest        string `json:"dest"`
	User        string `json:"user"`
	Group       string `json:"group"`
	Permissions string `json:"permissions"`
	UploadAt    string `json:"upload_at"`
	Source      string `json:"source"` // text, file PATH, command ARGV0
	Hash        string `json:"hash,omitempty"`
	// Change is "new", "changed", "unchanged" or "at apply" (command).
	Change     string `json:"change"`
	DeclaredAt string `json:"declared_at,omitempty"`
}

// Check is a health check apply runs after activation.
type Check struct {
	Kind     string `json:"kind"` // cmd or http
	Cmd      string `json:"cmd,omitempty"`
	URL      string `json:"url,omitempty"`
	Status   int    `json:"status,omitempty"`
	Timeout  string `json:"timeout"`
	Retries  int    `json:"retries"`
	Interval string `json:"interval"`
}

// Describe is how plans and messages name the check.
func (c *Check) Describe() string { return spec.DescribeCheck(c.Kind, c.Cmd, c.URL, c.Status) }

// Reboot is what the plan knows about rebooting a machine.
type Reboot struct {
	Needed  bool     `json:"needed"`
	Reasons []string `json:"reasons,omitempty"`
	// Will is true when apply reboots (--reboot always, or if-needed and
	// Needed): it activates with boot, reboots and waits for a new boot.
	Will bool `json:"will"`
	// Unknown says why Needed could not be decided, if so.
	Unknown string `json:"unknown,omitempty"`
}

// Rollout is the rolling policy and the batches computed from it.
type Rollout struct {
	Batch        int        `json:"batch,omitempty"`
	BatchPercent int        `json:"batch_percent,omitempty"`
	MaxFailures  int        `json:"max_failures"`
	Pause        string     `json:"pause,omitempty"`
	Tags         []string   `json:"tags,omitempty"`
	Batches      [][]string `json:"batches"` // machine addresses per batch, in order
	DeclaredAt   string     `json:"declared_at,omitempty"`
}

// GateAddr is the address of the gate between batch n and batch n+1.
func GateAddr(n int) string { return fmt.Sprintf("rollout.batch-%d", n) }

// IsGateAddr reports whether addr is a rollout gate.
func IsGateAddr(addr string) bool { return strings.HasPrefix(addr, "rollout.batch-") }

// PackageDiff lists added, removed and changed packages.
type PackageDiff struct {
	Added   []Package `json:"added,omitempty"`
	Removed []Package `json:"removed,omitempty"`
	Changed []Package `json:"changed,omitempty"`
}

// Package is a name-version pair; OldVersion is set for changes.
type Package struct {
	Name       string `json:"name"`
	Version    string `json:"version,omitempty"`
	OldVersion string `json:"old_version,omitempty"`
}

// Counts tallies the actions of a plan the way Terraform's summary does:
// a replacement counts as one add and one destroy.
// Install counts the machines whose deploy installs NixOS (Deploy does
// not count them).
type Counts struct{ Add, Change, Destroy, Import, Noop, Deploy, Install, Unchanged, Forget, Deferred, Stopped int }

// Count returns the plan's action counts.
func (p *Plan) Count() Counts {
	var c Counts
	for _, r := range p.Resources {
		switch r.Action {
		case Create:
			c.Add++
		case Update:
			c.Change++
		case Replace:
			c.Add++
			c.Destroy++
		case Delete:
			c.Destroy++
		case Import:
			c.Import++
		case Noop:
			c.Noop++
		}
		if r.DeleteDeposed != nil && r.Action != Delete {
			c.Destroy++
		}
	}
	for _, m := range p.Machines {
		switch m.Action {
		case Deploy, UploadKeys:
			if m.Install != nil {
				c.Install++
			} else {
				c.Deploy++
			}
		case Forget:
			c.Forget++
		case Deferred:
			c.Deferred++
		case Stopped:
			c.Stopped++
		default:
			c.Unchanged++
		}
	}
	return c
}

// HasChanges reports whether applying p would change anything.
func (p *Plan) HasChanges() bool {
	c := p.Count()
	return c.Add+c.Change+c.Destroy+c.Import+c.Deploy+c.Install+c.Forget > 0
}

// Deferred returns the deferred machines, by address, with the reason of
// each.
func (p *Plan) Deferred() map[string]string {
	out := map[string]string{}
	for _, m := range p.Machines {
		if m.Action == Deferred {
			out[m.Addr] = m.Reason
		}
	}
	return out
}

// Machine finds a planned machine by address.
func (p *Plan) Machine(addr string) *Machine {
	for _, m := range p.Machines {
		if m.Addr == addr {
			return m
		}
	}
	return nil
}

// Resource finds a planned resource by address.
func (p *Plan) Resource(addr string) *Resource {
	i := sort.Search(len(p.Resources), func(i int) bool { return p.Resources[i].Addr >= addr })
	if i < len(p.Resources) && p.Resources[i].Addr == addr {
		return p.Resources[i]
	}
	return nil
}

// Normalize sorts everything that must be sorted; Encode calls it.
func (p *Plan) Normalize() {
	sort.Slice(p.Resources, func(i, j int) bool { return p.Resources[i].Addr < p.Resources[j].Addr })
	sort.Slice(p.Machines, func(i, j int) bool { return p.Machines[i].Addr < p.Machines[j].Addr })
	sort.Slice(p.Outputs, func(i, j int) bool { return p.Outputs[i].Name < p.Outputs[j].Name })
	sort.Slice(p.Providers, func(i, j int) bool { return p.Providers[i].Key < p.Providers[j].Key })
	sort.Slice(p.Edges, func(i, j int) bool {
		if p.Edges[i][0] != p.Edges[j][0] {
			return p.Edges[i][0] < p.Edges[j][0]
		}
		return p.Edges[i][1] < p.Edges[j][1]
	})
	if p.Edges == nil {
		p.Edges = [][2]string{}
	}
	if p.Resources == nil {
		p.Resources = []*Resource{}
	}
	for _, r := range p.Resources {
		sort.Strings(r.Deps)
		sort.Strings(r.ReplaceBecause)
	}
}
