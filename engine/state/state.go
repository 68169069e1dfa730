package state

import (
	"crypto/rand"
	"encoding/hex"
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
	// Machines maps machine addresses ("machine.web") to what ferry
	// deployed there.
	Machines map[string]*Machine `json:"machines,omitempty"`
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
}

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
// nil when it was deleted (forgotten).
type Change struct {
	Addr     string    `json:"addr"`
	Resource *Resource `json:"resource,omitempty"`
	Machine  *Machine  `json:"machine,omitempty"`
}

// IsMachineAddr reports whether addr names a machine.
func IsMachineAddr(addr string) bool { return strings.HasPrefix(addr, "machine.") }

// ApplyChange applies c to s in place.
func (s *State) ApplyChange(c Change) {
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
	if c.Resource == nil {
		delete(s.Resources, c.Addr)
		return
	}
	s.Resources[c.Addr] = c.Resource
}
