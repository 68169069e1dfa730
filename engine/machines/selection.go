package machines

import (
	"fmt"
	"path"
	"slices"
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
// nothing or everything. The result is in declaration order. Tags are
// the configuration's (spec.Machine.Tags); plan also sees those only
// Nix sets (SelectTags).
func Select(cfg *spec.Config, on, exclude []string) ([]*spec.Machine, error) {
	return SelectTags(cfg, on, exclude, func(m *spec.Machine) ([]string, bool) { return m.Tags, true })
}

// TagsOf gives a machine's tags; known is false when they are not known
// yet (a machine whose tags only its evaluation can tell).
type TagsOf func(m *spec.Machine) (tags []string, known bool)

// SelectTags is Select with the tags tagsOf gives. A machine whose tags
// are not known is selected by an --on tag pattern and not removed by an
// --exclude one: the result is then every machine that may be selected
// once the tags are known, and a tag pattern that only such machines may
// match is no error.
func SelectTags(cfg *spec.Config, on, exclude []string, tagsOf TagsOf) ([]*spec.Machine, error) {
	sel := map[string]bool{}
	if len(on) == 0 {
		for _, m := range cfg.Machines {
			sel[m.Name] = true
		}
	}
	for _, o := range on {
		names, err := matchMachines(cfg, "--on", o, tagsOf, true)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			sel[n] = true
		}
	}
	for _, x := range exclude {
		names, err := matchMachines(cfg, "--exclude", x, tagsOf, false)
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

// NeedsNixTags reports whether selecting with on and exclude depends on
// tags only Nix may set: a pattern is a tag and a machine has no tags in
// the configuration (its deployment.tags become its tags).
func NeedsNixTags(cfg *spec.Config, on, exclude []string) bool {
	tagPattern := false
	for _, p := range slices.Concat(on, exclude) {
		tagPattern = tagPattern || strings.HasPrefix(p, "@")
	}
	if !tagPattern {
		return false
	}
	for _, m := range cfg.Machines {
		if len(m.Tags) == 0 {
			return true
		}
	}
	return false
}

// TagMatches names, for each tag pattern of on and exclude, the machines
// among ms whose tags (tagsOf) it matches: what the plan shows.
func TagMatches(ms []*spec.Machine, on, exclude []string, tagsOf TagsOf) map[string][]string {
	out := map[string][]string{}
	for _, p := range slices.Concat(on, exclude) {
		tag, ok := strings.CutPrefix(p, "@")
		if !ok {
			continue
		}
		out[p] = []string{}
		for _, m := range ms {
			tags, _ := tagsOf(m)
			if hasTagMatching(tags, tag) {
				out[p] = append(out[p], m.Addr)
			}
		}
	}
	return out
}

func hasTagMatching(tags []string, pattern string) bool {
	for _, t := range tags {
		if ok, _ := path.Match(pattern, t); ok {
			return true
		}
	}
	return false
}

// matchMachines returns the names of the machines pattern selects. A
// machine whose tags are not known matches a tag pattern when
// unknownMatches.
func matchMachines(cfg *spec.Config, flag, pattern string, tagsOf TagsOf, unknownMatches bool) ([]string, error) {
	if len(cfg.Machines) == 0 {
		return nil, fmt.Errorf("%s %s: the configuration declares no machine", flag, pattern)
	}
	var names []string
	if tag, ok := strings.CutPrefix(pattern, "@"); ok {
		if _, err := path.Match(tag, ""); err != nil {
			return nil, fmt.Errorf("%s %s: bad pattern: %v", flag, pattern, err)
		}
		unknown := false
		for _, m := range cfg.Machines {
			tags, known := tagsOf(m)
			unknown = unknown || !known
			if (!known && unknownMatches) || (known && hasTagMatching(tags, tag)) {
				names = append(names, m.Name)
			}
		}
		if len(names) == 0 && !unknown {
			tags := allTags(cfg, tagsOf)
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

// allTags lists the machines' tags (tagsOf) as @TAG, sorted.
func allTags(cfg *spec.Config, tagsOf TagsOf) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range cfg.Machines {
		tags, _ := tagsOf(m)
		for _, t := range tags {
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
