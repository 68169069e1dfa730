package machines

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/nixferry/ferry/engine/spec"
)

// Select resolves --on and --exclude, for plan and for every
// day-2 command: each pattern is a machine name, a machine address
// (machine.NAME), a tag (@TAG), and any of them may be a glob ('web-*',
// '@db-?'). An empty on selects every machine; exclude then removes
// machines. A pattern that matches no machine is an error naming the
// machines (and the nearest name), so a typo never silently deploys
// nothing or everything. The result is in declaration order.
func Select(cfg *spec.Config, on, exclude []string) ([]*spec.Machine, error) {
	sel := map[string]bool{}
	if len(on) == 0 {
		for _, m := range cfg.Machines {
			sel[m.Name] = true
		}
	}
	for _, o := range on {
		names, err := matchMachines(cfg, "--on", o)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			sel[n] = true
		}
	}
	for _, x := range exclude {
		names, err := matchMachines(cfg, "--exclude", x)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			delete(sel, n)
		}
	}
	var out []*spec.Machine
	for _, m := range cfg.Machines {
		if sel[m.Name] {
			out = append(out, m)
		}
	}
	if len(out) == 0 && len(cfg.Machines) > 0 && (len(on) > 0 || len(exclude) > 0) {
		return nil, fmt.Errorf("%s leaves no machine selected; machines: %s", describeSelection(on, exclude), machineNames(cfg))
	}
	return out, nil
}

// matchMachines returns the names of the machines pattern selects.
func matchMachines(cfg *spec.Config, flag, pattern string) ([]string, error) {
	if len(cfg.Machines) == 0 {
		return nil, fmt.Errorf("%s %s: the configuration declares no machine", flag, pattern)
	}
	var names []string
	if tag, ok := strings.CutPrefix(pattern, "@"); ok {
		if _, err := path.Match(tag, ""); err != nil {
			return nil, fmt.Errorf("%s %s: bad pattern: %v", flag, pattern, err)
		}
		for _, m := range cfg.Machines {
			for _, t := range m.Tags {
				if ok, _ := path.Match(tag, t); ok {
					names = append(names, m.Name)
					break
				}
			}
		}
		if len(names) == 0 {
			tags := allTags(cfg)
			msg := fmt.Sprintf("%s %s: no machine has a tag matching %q; tags: %s", flag, pattern, tag, orNone(strings.Join(tags, ", ")))
			if near := spec.Nearest(pattern, tags); near != "" {
				msg += fmt.Sprintf("; did you mean %s?", near)
			}
			return nil, fmt.Errorf("%s", msg)
		}
		return names, nil
	}
	name := strings.TrimPrefix(pattern, "machine.")
	if _, err := path.Match(name, ""); err != nil {
		return nil, fmt.Errorf("%s %s: bad pattern: %v", flag, pattern, err)
	}
	all := make([]string, len(cfg.Machines))
	for i, m := range cfg.Machines {
		all[i] = m.Name
		if ok, _ := path.Match(name, m.Name); ok {
			names = append(names, m.Name)
		}
	}
	if len(names) == 0 {
		msg := fmt.Sprintf("%s %s: no machine matches; machines: %s", flag, pattern, strings.Join(all, ", "))
		if near := spec.Nearest(name, all); near != "" {
			msg += fmt.Sprintf("; did you mean %s?", near)
		}
		return nil, fmt.Errorf("%s", msg)
	}
	return names, nil
}

func describeSelection(on, exclude []string) string {
	var parts []string
	for _, o := range on {
		parts = append(parts, "--on "+o)
	}
	for _, x := range exclude {
		parts = append(parts, "--exclude "+x)
	}
	return strings.Join(parts, " ")
}

func machineNames(cfg *spec.Config) string {
	names := make([]string, len(cfg.Machines))
	for i, m := range cfg.Machines {
		names[i] = m.Name
	}
	return strings.Join(names, ", ")
}

// allTags lists the configuration's tags as @TAG, sorted.
func allTags(cfg *spec.Config) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range cfg.Machines {
		for _, t := range m.Tags {
			if !seen[t] {
				seen[t] = true
				out = append(out, "@"+t)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Named finds the one machine a command about a single machine
// names (NAME or machine.NAME, no tags or globs), or says which exist.
func Named(cfg *spec.Config, name string) (*spec.Machine, error) {
	if strings.HasPrefix(name, "@") || strings.ContainsAny(name, "*?[") {
		return nil, fmt.Errorf("%s: this command works on one machine: name it (tags and globs select several machines with exec, info and check)", name)
	}
	if m := cfg.MachineByName(strings.TrimPrefix(name, "machine.")); m != nil {
		return m, nil
	}
	all := make([]string, len(cfg.Machines))
	for i, m := range cfg.Machines {
		all[i] = m.Name
	}
	msg := fmt.Sprintf("%s: no such machine in the configuration; machines: %s", name, orNone(strings.Join(all, ", ")))
	if near := spec.Nearest(strings.TrimPrefix(name, "machine."), all); near != "" {
		msg += fmt.Sprintf("; did you mean %s?", near)
	}
	return nil, fmt.Errorf("%s", msg)
}
