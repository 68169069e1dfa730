package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/machines"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/remote"
)

// CheckCmd is `ferry check`.
type CheckCmd struct {
	On          []string `name:"on" placeholder:"NAME|@TAG" help:"Only these machines (repeatable; default: all)."`
	Parallelism int      `name:"parallelism" default:"${machines_default}" help:"Machines checked at once."`
	JSON        bool     `name:"json" help:"Print JSON."`
}

// machineCheck is one machine's health as check reports it.
type machineCheck struct {
	Name string `json:"name"`
	// OK is false when the machine drifted, has failed units or could not
	// be checked.
	OK          bool   `json:"ok"`
	Deployed    string `json:"deployed,omitempty"`
	Current     string `json:"current,omitempty"`
	Drift       bool   `json:"drift"`
	NotDeployed bool   `json:"not_deployed,omitempty"`
	// Unverified is why the last deploy did not finish verified.
	Unverified string `json:"unverified,omitempty"`
	// Unconfirmed describes a switch an interrupted run left unconfirmed
	// (its watchdog will switch the host back).
	Unconfirmed string `json:"unconfirmed,omitempty"`
	// UnitsChecked is false where systemd does not run (no systemctl, or
	// not booted with systemd): failed units were not looked for.
	UnitsChecked bool     `json:"units_checked"`
	FailedUnits  []string `json:"failed_units"`
	Error        string   `json:"error,omitempty"`
}

// noSystemd is what failedUnitsScript prints where systemd does not run.
const noSystemd = "ferry: no systemd"

// failedUnitsScript lists failed units, one per line, where systemd runs
// (it has /run/systemd/system, as sd_booted checks); elsewhere it prints
// noSystemd. NixOS puts systemctl in /run/current-system/sw/bin.
const failedUnitsScript = `PATH="$PATH:/run/current-system/sw/bin"
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl --failed --no-legend --plain --no-pager
else
  echo '` + noSystemd + `'
fi`

// Run checks every selected machine: the running system is the one ferry
// deployed, and no systemd unit failed. Exit status 1 when any is not so.
func (c *CheckCmd) Run(a *App) error {
	if err := engine.LimitMachines.Check(c.Parallelism); err != nil {
		return err
	}
	f, err := a.openFleet(c.On)
	if err != nil {
		return err
	}
	defer f.Close()
	checks := make([]machineCheck, len(f.machines))
	f.each(a.ctx, c.Parallelism, func(ctx context.Context, i int, m *spec.Machine) {
		checks[i] = f.check(ctx, m)
	})
	var bad []string
	for _, ch := range checks {
		if !ch.OK {
			bad = append(bad, ch.Name)
		}
	}
	if c.JSON {
		if err := writeJSON(a.Stdout, checks); err != nil {
			return err
		}
	} else {
		renderChecks(a, checks)
	}
	if len(bad) > 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("check found problems on %d of %s: %s", len(bad), spec.Count(len(checks), "machine"), strings.Join(bad, ", "))}
	}
	return nil
}

func renderChecks(a *App, checks []machineCheck) {
	col := a.colors()
	for _, ch := range checks {
		switch {
		case ch.Error != "":
			fmt.Fprintf(a.Stdout, "%s: %snot checked%s: %s\n", ch.Name, col.red, col.reset, ch.Error)
			continue
		case ch.Drift:
			fmt.Fprintf(a.Stdout, "%s: %sdrift%s: running %s, but ferry deployed %s\n", ch.Name, col.yellow, col.reset, orNone(ch.Current), ch.Deployed)
		case ch.NotDeployed:
			fmt.Fprintf(a.Stdout, "%s: not deployed by ferry (running %s)\n", ch.Name, orNone(ch.Current))
		}
		if ch.Unverified != "" {
			fmt.Fprintf(a.Stdout, "%s: %sunverified%s: %s (the next plan deploys it again)\n", ch.Name, col.yellow, col.reset, ch.Unverified)
		}
		if ch.Unconfirmed != "" {
			fmt.Fprintf(a.Stdout, "%s: %sunconfirmed%s: %s\n", ch.Name, col.yellow, col.reset, ch.Unconfirmed)
		}
		if len(ch.FailedUnits) > 0 {
			fmt.Fprintf(a.Stdout, "%s: %sfailed units%s: %s\n", ch.Name, col.red, col.reset, strings.Join(ch.FailedUnits, ", "))
		}
		if ch.OK && !ch.NotDeployed {
			fmt.Fprintf(a.Stdout, "%s: %sok%s\n", ch.Name, col.green, col.reset)
		}
	}
}

// check reads m's standing (machines.Judge, as plan judges it) and
// failed units over one connection.
func (f *fleet) check(ctx context.Context, m *spec.Machine) machineCheck {
	ch := machineCheck{Name: m.Name, FailedUnits: []string{}}
	conn, err := f.dial(ctx, m)
	var facts remote.HostFacts
	if err == nil {
		facts, err = remote.Probe(ctx, conn)
	}
	var units string
	if err == nil {
		units, err = conn.Output(ctx, failedUnitsScript)
		if err != nil {
			err = fmt.Errorf("list failed units: %w", err)
		}
	}
	if err != nil {
		ch.Error = errorLine(err)
		return ch
	}
	st := machines.Judge(f.record(m), facts)
	ch.Deployed, ch.Current, ch.NotDeployed, ch.Drift = st.Deployed, st.Observed, st.NotDeployed, st.Drift
	ch.Unverified = st.Unverified
	if len(st.Pending) > 0 {
		ch.Unconfirmed = st.Pending[0].String()
	}
	ch.UnitsChecked, ch.FailedUnits = parseFailedUnits(units)
	ch.OK = st.OK() && len(ch.FailedUnits) == 0
	return ch
}

// parseFailedUnits reads `systemctl --failed --no-legend --plain`: the unit
// is the first word of each line (older systemd prefixes a bullet).
func parseFailedUnits(out string) (checked bool, units []string) {
	units = []string{}
	if strings.TrimSpace(out) == noSystemd {
		return false, units
	}
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) > 0 && (fields[0] == "●" || fields[0] == "*") {
			fields = fields[1:]
		}
		if len(fields) > 0 {
			units = append(units, fields[0])
		}
	}
	return true, units
}
