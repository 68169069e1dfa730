package state

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sort"
	"strings"
	"time"
)

// FormatVersion is the version of the state file format this ferry writes.
// Older versions are upgraded on read; newer ones are refused.
const FormatVersion = 1

// State is one snapshot of a deployment.
type State struct {
	FormatVersion int                  `json:"format_version"`
	Lineage       string               `json:"lineage"`
	Serial        uint64               `json:"serial"`
	Deployment    string               `json:"deployment"`
	Resources     map[string]*Resource `json:"resources"`
	Outputs       map[string]any       `json:"outputs,omitempty"`
	// SensitiveOutputs names the outputs declared sensitive, sorted.
	SensitiveOutputs []string `json:"sensitive_outputs,omitempty"`
	// Machines maps machine addresses ("machine.web") to what ferry
	// deployed there.
	Machines map[string]*Machine `json:"machines,omitempty"`
	// Intents are creates whose outcome was not recorded (a killed
	// apply), by address.
	Intents map[string]*Intent `json:"intents,omitempty"`
	// AppliedPlan is the identity (plan.Plan.ID) of the plan whose apply
	// wrote this snapshot; "" for a snapshot written otherwise (state
	// commands, import, the recovery of an interrupted apply). Apply
	// uses it to tell a plan applied twice from one another apply
	// overtook.
	AppliedPlan string `json:"applied_plan,omitempty"`
	// Recorded are objects another tool made that ferry knows of but does
	// not manage (a NixOps EC2 machine before ferry's EC2 machines can
	// adopt it), by address ("nixops.ec2.web"): plans neither read nor
	// change them; `ferry state list` shows them.
	Recorded map[string]*Recorded `json:"recorded,omitempty"`
}

// Recorded is an object ferry carries in state without managing it.
type Recorded struct {
	// Type is the other tool's type ("nixops ec2").
	Type string `json:"type"`
	// Why says why ferry does not manage it, and what to do.
	Why string `json:"why"`
	// Attrs are the other tool's attributes, as it recorded them.
	Attrs map[string]string `json:"attrs,omitempty"`
}

// Machine is what ferry knows about one NixOS machine.
type Machine struct {
	Target string `json:"target"` // user@host:port
	// HostKey is the pinned SSH host key (from the config, or trusted on
	// first use and enforced afterwards).
	HostKey    string    `json:"host_key,omitempty"`
	Drv        string    `json:"drv,omitempty"`  // deployed toplevel derivation
	Path       string    `json:"path,omitempty"` // deployed system
	Activation string    `json:"activation,omitempty"`
	Generation int       `json:"generation,omitempty"`
	DeployedAt time.Time `json:"deployed_at,omitzero"`
	DeclaredAt string    `json:"declared_at,omitempty"`
	// Keys maps each uploaded key's destination to the hash of what was
	// uploaded (never the secret).
	Keys map[string]string `json:"keys,omitempty"`
	// LastRollback records the last time ferry, or the host's watchdog,
	// switched the machine back.
	LastRollback *Rollback `json:"last_rollback,omitempty"`
	// BootID is the host's boot ID after the last reboot ferry made.
	BootID string `json:"boot_id,omitempty"`
	// Status says whether the last deploy finished verified: the
	// activation done, the health checks passed and the watchdog
	// confirmed (StatusVerified), or not (StatusUnverified: interrupted,
	// a check failed, a rollback did not finish), with StatusReason. The
	// next plan redeploys an unverified machine. "" is a record written
	// before ferry kept a status: treated as verified.
	Status       string    `json:"status,omitempty"`
	StatusReason string    `json:"status_reason,omitempty"`
	StatusAt     time.Time `json:"status_at,omitzero"`
	// Deps are the resources and machines the machine depended on when it
	// was last recorded (its target's and modules' references and its
	// depends_on), sorted: a machine no longer configured is forgotten
	// before they are deleted.
	Deps []string `json:"deps,omitempty"`
	// BuildHost (user@host:port) built the deployed system (build_host),
	// and BuildHostKey is its host key, pinned like HostKey.
	BuildHost    string `json:"build_host,omitempty"`
	BuildHostKey string `json:"build_host_key,omitempty"`
	// Install records the install of NixOS onto the host (an install(...)
	// target): the phases completed, so that an interrupted install
	// resumes after them; nil for machines ferry did not install.
	Install *Install `json:"install,omitempty"`
}

// Install is the progress of an install. It holds no private key: the
// host key ferry generates for the installed system is written onto the
// host, and only its public half is recorded (HostKey, pinned before the
// first login).
type Install struct {
	// Done are the phases completed, in order ("kexec", "disko",
	// "install", "reboot").
	Done []string `json:"done,omitempty"`
	// HostKey is the public host key ferry generated and wrote into the
	// installed system, once the install phase wrote it.
	HostKey string `json:"host_key,omitempty"`
	// Verified is set once the installed system booted, ran the planned
	// system and passed its checks: later plans deploy the machine as any
	// other and never install again unless --replace.
	Verified bool      `json:"verified,omitempty"`
	At       time.Time `json:"at,omitzero"`
}

// Installing reports whether an install of the machine was started and
// not verified.
func (m *Machine) Installing() bool { return m != nil && m.Install != nil && !m.Install.Verified }

// Machine statuses.
const (
	StatusVerified   = "verified"
	StatusUnverified = "unverified"
)

// Unverified reports whether the machine's last deploy did not finish
// verified.
func (m *Machine) Unverified() bool { return m != nil && m.Status == StatusUnverified }

// Rollback is a switch back to the previous system.
type Rollback struct {
	From   string    `json:"from"` // the system that was rolled back
	To     string    `json:"to"`   // the system running afterwards
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Resource is what ferry knows about one resource.
type Resource struct {
	Type       string         `json:"type"`
	Attrs      map[string]any `json:"attrs"`
	Deps       []string       `json:"deps,omitempty"` // direct dependencies only, sorted
	DeclaredAt string         `json:"declared_at,omitempty"`
	// Provider is the key of the provider configuration that manages the
	// object ("aws.eu"); "" means the type's provider's default one.
	Provider string `json:"provider,omitempty"`
	// SchemaVersion is the version of the type's schema Attrs were
	// written with.
	SchemaVersion int `json:"schema_version,omitempty"`
	// Tainted: a create or update failed after the object existed (Attrs
	// are what exists of it) or `ferry taint` marked it; the next plan
	// replaces it.
	Tainted bool `json:"tainted,omitempty"`
	// Deposed holds the attributes of the object a create-before-destroy
	// replacement has not deleted yet: the next apply deletes it.
	Deposed map[string]any `json:"deposed,omitempty"`
}

// Intent is a create that apply journalled before calling the provider,
// with the idempotency token it passed: a run killed during the call
// leaves it, and the next plan finds the object by the token and adopts
// it, so that no object is ever made twice or left untracked.
type Intent struct {
	Type       string         `json:"type"`
	Provider   string         `json:"provider,omitempty"`
	Token      string         `json:"token"`
	Planned    map[string]any `json:"planned,omitempty"`
	Deps       []string       `json:"deps,omitempty"`
	DeclaredAt string         `json:"declared_at,omitempty"`
	At         time.Time      `json:"at"`
}

// ProviderKey is the key of the provider configuration that manages r.
func (r *Resource) ProviderKey() string {
	if r.Provider != "" {
		return r.Provider
	}
	typ, _, _ := strings.Cut(r.Type, ".")
	return typ
}

// New returns an empty state with a fresh lineage and serial 0.
func New(deployment string) *State {
	return &State{
		FormatVersion: FormatVersion,
		Lineage:       NewLineage(),
		Deployment:    deployment,
		Resources:     map[string]*Resource{},
	}
}

// NewLineage returns a random lineage identifier.
func NewLineage() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Addrs returns the resource addresses, sorted.
func (s *State) Addrs() []string {
	out := make([]string, 0, len(s.Resources))
	for a := range s.Resources {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// Clone returns a copy of s that shares attribute maps (they are never
// mutated in place) but not the resource index.
func (s *State) Clone() *State {
	c := *s
	c.Resources = make(map[string]*Resource, len(s.Resources))
	for a, r := range s.Resources {
		c.Resources[a] = r
	}
	if s.Machines != nil {
		c.Machines = make(map[string]*Machine, len(s.Machines))
		for a, m := range s.Machines {
			c.Machines[a] = m
		}
	}
	if s.Intents != nil {
		c.Intents = make(map[string]*Intent, len(s.Intents))
		for a, i := range s.Intents {
			c.Intents[a] = i
		}
	}
	if s.Recorded != nil {
		c.Recorded = make(map[string]*Recorded, len(s.Recorded))
		for a, r := range s.Recorded {
			c.Recorded[a] = r
		}
	}
	c.SensitiveOutputs = slices.Clone(s.SensitiveOutputs)
	if s.Outputs != nil {
		c.Outputs = make(map[string]any, len(s.Outputs))
		for k, v := range s.Outputs {
			c.Outputs[k] = v
		}
	}
	return &c
}

// Change is one completed operation, as recorded in the apply journal:
// Resource (or Machine, for "machine." addresses) is the new record, or
// nil when it was deleted (forgotten). A Change with an Intent records a
// create about to be called and changes nothing else.
type Change struct {
	Addr     string    `json:"addr"`
	Resource *Resource `json:"resource,omitempty"`
	Machine  *Machine  `json:"machine,omitempty"`
	Intent   *Intent   `json:"intent,omitempty"`
}

// IsMachineAddr reports whether addr names a machine.
func IsMachineAddr(addr string) bool { return strings.HasPrefix(addr, "machine.") }

// ApplyChange applies c to s in place.
func (s *State) ApplyChange(c Change) {
	if c.Intent != nil {
		if s.Intents == nil {
			s.Intents = map[string]*Intent{}
		}
		s.Intents[c.Addr] = c.Intent
		return
	}
	if IsMachineAddr(c.Addr) {
		if c.Machine == nil {
			delete(s.Machines, c.Addr)
			return
		}
		if s.Machines == nil {
			s.Machines = map[string]*Machine{}
		}
		s.Machines[c.Addr] = c.Machine
		return
	}
	// The outcome of a create settles its intent.
	delete(s.Intents, c.Addr)
	if len(s.Intents) == 0 {
		s.Intents = nil
	}
	if c.Resource == nil {
		delete(s.Resources, c.Addr)
		return
	}
	s.Resources[c.Addr] = c.Resource
}
