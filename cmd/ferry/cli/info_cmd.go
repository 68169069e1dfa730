package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/remote"
)

// InfoCmd is `ferry info`.
type InfoCmd struct {
	On          []string `name:"on" placeholder:"NAME|@TAG" help:"Only these machines (repeatable; default: all)."`
	Parallelism int      `name:"parallelism" default:"${machines_default}" help:"Machines read at once."`
	JSON        bool     `name:"json" help:"Print JSON."`
}

// Machine statuses, as info prints them in --json.
const (
	statusUpToDate    = "up_to_date"
	statusDrift       = "drift"
	statusNotDeployed = "not_deployed"
	statusUnreachable = "unreachable"
)

var statusText = map[string]string{
	statusUpToDate: "up to date", statusDrift: "drift", statusNotDeployed: "not deployed", statusUnreachable: "unreachable",
}

// machineInfo is one machine as info reports it.
type machineInfo struct {
	Name   string   `json:"name"`
	Addr   string   `json:"address"`
	Target string   `json:"target"`
	Tags   []string `json:"tags"`
	// Host is the cloud instance the machine runs on, as state recorded
	// it (aws.ec2 targets); nil for hosts ferry did not create.
	Host *hostInfo `json:"host,omitempty"`
	// Install is how far ferry installed NixOS onto the host (install
	// targets), from state: "verified", or the phases an interrupted
	// install completed.
	Install string `json:"install,omitempty"`
	// From state: what ferry deployed.
	Generation int        `json:"generation,omitempty"`
	Deployed   string     `json:"deployed,omitempty"`
	DeployedAt *time.Time `json:"deployed_at,omitempty"`
	// From the host.
	Current     string `json:"current,omitempty"`
	Unreachable string `json:"unreachable,omitempty"`
	Status      string `json:"status"`
}

// hostInfo is the instance a machine runs on, from its resource's state.
type hostInfo struct {
	Resource  string `json:"resource"`
	ID        string `json:"id,omitempty"`
	State     string `json:"state,omitempty"`
	Type      string `json:"type,omitempty"`
	PublicIP  string `json:"public_ip,omitempty"`
	PrivateIP string `json:"private_ip,omitempty"`
}

func (h *hostInfo) String() string {
	s := orNone(h.ID)
	var about []string
	for _, x := range []string{h.State, h.Type} {
		if x != "" {
			about = append(about, x)
		}
	}
	if len(about) > 0 {
		s += " (" + strings.Join(about, ", ") + ")"
	}
	if h.PublicIP != "" {
		s += ", public " + h.PublicIP
	}
	if h.PrivateIP != "" {
		s += ", private " + h.PrivateIP
	}
	return s
}

// Run reports every selected machine: what ferry deployed, what the host
// runs, and whether they agree.
func (c *InfoCmd) Run(a *App) error {
	if err := engine.LimitMachines.Check(c.Parallelism); err != nil {
		return err
	}
	f, err := a.openFleet(c.On)
	if err != nil {
		return err
	}
	defer f.Close()
	infos := make([]machineInfo, len(f.machines))
	f.each(a.ctx, c.Parallelism, func(ctx context.Context, i int, m *spec.Machine) {
		infos[i] = f.info(ctx, m)
	})
	if c.JSON {
		return writeJSON(a.Stdout, infos)
	}
	col := a.colors()
	for i, in := range infos {
		if i > 0 {
			fmt.Fprintln(a.Stdout)
		}
		fmt.Fprintf(a.Stdout, "%s%s%s  %s", col.bold, in.Name, col.reset, in.Target)
		if len(in.Tags) > 0 {
			fmt.Fprintf(a.Stdout, "  @%s", strings.Join(in.Tags, " @"))
		}
		fmt.Fprintln(a.Stdout)
		if in.Host != nil {
			fmt.Fprintf(a.Stdout, "    instance:  %s\n", in.Host)
		}
		if in.Install != "" {
			fmt.Fprintf(a.Stdout, "    install:   %s\n", in.Install)
		}
		if in.Deployed != "" {
			fmt.Fprintf(a.Stdout, "    deployed:  %s\n", in.Deployed)
			fmt.Fprintf(a.Stdout, "               %s\n", deployedWhen(in.Generation, in.DeployedAt))
		} else {
			fmt.Fprintf(a.Stdout, "    deployed:  (never, by ferry)\n")
		}
		if in.Unreachable != "" {
			fmt.Fprintf(a.Stdout, "    running:   unreachable: %s\n", in.Unreachable)
		} else {
			fmt.Fprintf(a.Stdout, "    running:   %s\n", orNone(in.Current))
		}
		sc := map[string]string{statusUpToDate: col.green, statusDrift: col.yellow, statusUnreachable: col.red}[in.Status]
		fmt.Fprintf(a.Stdout, "    status:    %s%s%s\n", sc, statusText[in.Status], col.reset)
	}
	return nil
}

func deployedWhen(gen int, at *time.Time) string {
	var parts []string
	if gen > 0 {
		parts = append(parts, fmt.Sprintf("generation %d", gen))
	}
	if at != nil {
		parts = append(parts, "at "+at.UTC().Format(time.RFC3339))
	}
	if len(parts) == 0 {
		return "(generation unknown)"
	}
	return strings.Join(parts, ", ")
}

// info reads m's current system and compares it with the state's record.
func (f *fleet) info(ctx context.Context, m *spec.Machine) machineInfo {
	in := machineInfo{Name: m.Name, Addr: m.Addr, Target: targetString(m.Target), Tags: m.Tags}
	if in.Tags == nil {
		in.Tags = []string{}
	}
	if addr := m.Target.Resource; addr != "" {
		in.Host = &hostInfo{Resource: addr}
		if r := f.st.Resources[addr]; r != nil {
			str := func(k string) string { s, _ := r.Attrs[k].(string); return s }
			in.Host.ID, in.Host.State, in.Host.Type = str("id"), str("state"), str("instance_type")
			in.Host.PublicIP, in.Host.PrivateIP = str("public_ip"), str("private_ip")
		}
	}
	if rec := f.record(m); rec != nil && rec.Install != nil {
		switch {
		case rec.Install.Verified:
			in.Install = "verified"
		case len(rec.Install.Done) == 0:
			in.Install = "started, no phase completed (run `ferry plan` to resume)"
		default:
			in.Install = "interrupted after " + strings.Join(rec.Install.Done, ", ") + " (run `ferry plan` to resume)"
		}
	}
	if rec := f.record(m); rec != nil && rec.Path != "" {
		in.Generation, in.Deployed = rec.Generation, rec.Path
		if !rec.DeployedAt.IsZero() {
			at := rec.DeployedAt
			in.DeployedAt = &at
		}
	}
	cur, err := f.currentSystem(ctx, m)
	switch {
	case err != nil:
		in.Unreachable, in.Status = errorLine(err), statusUnreachable
	case in.Deployed == "":
		in.Current, in.Status = cur, statusNotDeployed
	case cur != in.Deployed:
		in.Current, in.Status = cur, statusDrift
	default:
		in.Current, in.Status = cur, statusUpToDate
	}
	return in
}

// currentSystem is what /run/current-system points to on m ("" for none).
func (f *fleet) currentSystem(ctx context.Context, m *spec.Machine) (string, error) {
	conn, err := f.dial(ctx, m)
	if err != nil {
		return "", err
	}
	return remote.CurrentSystem(ctx, conn)
}
