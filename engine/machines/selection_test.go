package machines_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/machines"
	"github.com/nixferry/ferry/engine/spec"
)

func TestSelectMachines(t *testing.T) {
	cfg := &spec.Config{Machines: []*spec.Machine{
		{Name: "web1", Tags: []string{"web"}}, {Name: "db", Tags: []string{"db"}}, {Name: "web2", Tags: []string{"web", "canary"}},
		{Name: "web-10", Tags: []string{"web"}},
	}}
	tests := []struct {
		on, exclude []string
		want        []string
		err         string
	}{
		{nil, nil, []string{"web1", "db", "web2", "web-10"}, ""},
		{[]string{"@web"}, nil, []string{"web1", "web2", "web-10"}, ""},
		{[]string{"web2", "machine.db"}, nil, []string{"db", "web2"}, ""},
		{[]string{"@web", "web1"}, nil, []string{"web1", "web2", "web-10"}, ""},
		{[]string{"web*"}, nil, []string{"web1", "web2", "web-10"}, ""},
		{[]string{"machine.web?"}, nil, []string{"web1", "web2"}, ""},
		{[]string{"@c*"}, nil, []string{"web2"}, ""},
		{nil, []string{"@canary"}, []string{"web1", "db", "web-10"}, ""},
		{[]string{"@web"}, []string{"web-*"}, []string{"web1", "web2"}, ""},
		{[]string{"@cache"}, nil, nil, `--on @cache: no machine has a tag matching "cache"; tags: @canary, @db, @web`},
		{[]string{"mail"}, nil, nil, "--on mail: no machine matches; machines: web1, db, web2, web-10"},
		{[]string{"web3"}, nil, nil, "--on web3: no machine matches; machines: web1, db, web2, web-10; did you mean web1?"},
		{nil, []string{"dbb"}, nil, "--exclude dbb: no machine matches; machines: web1, db, web2, web-10; did you mean db?"},
		{[]string{"db"}, []string{"db"}, nil, "--on db --exclude db leaves no machine selected; machines: web1, db, web2, web-10"},
		{[]string{"web["}, nil, nil, "--on web[: bad pattern: syntax error in pattern"},
	}
	for _, tt := range tests {
		ms, err := machines.Select(cfg, tt.on, tt.exclude)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("SelectMachines(%q, %q) error = %v, want %q", tt.on, tt.exclude, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("SelectMachines(%q, %q): %v", tt.on, tt.exclude, err)
		}
		var got []string
		for _, m := range ms {
			got = append(got, m.Name)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("SelectMachines(%q, %q) (-want +got):\n%s", tt.on, tt.exclude, diff)
		}
	}
}

// TestSelectTagsUnknown: a machine whose tags are not known yet is kept
// by an --on tag pattern and not removed by an --exclude one, so that
// plan evaluates it; with its tags known, the patterns decide.
func TestSelectTagsUnknown(t *testing.T) {
	cfg := &spec.Config{Machines: []*spec.Machine{
		{Name: "a", Addr: "machine.a", Tags: []string{"web"}},
		{Name: "b", Addr: "machine.b"},
		{Name: "c", Addr: "machine.c"},
	}}
	names := func(ms []*spec.Machine) string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Name)
		}
		return strings.Join(out, ",")
	}
	if !machines.NeedsNixTags(cfg, []string{"@db"}, nil) || machines.NeedsNixTags(cfg, []string{"a"}, nil) {
		t.Errorf("NeedsNixTags")
	}
	unknown := func(m *spec.Machine) ([]string, bool) { return m.Tags, len(m.Tags) > 0 }
	got, err := machines.SelectTags(cfg, []string{"@db"}, nil, unknown)
	if err != nil || names(got) != "b,c" {
		t.Errorf("--on @db before evaluation: %s, %v", names(got), err)
	}
	got, err = machines.SelectTags(cfg, nil, []string{"@db"}, unknown)
	if err != nil || names(got) != "a,b,c" {
		t.Errorf("--exclude @db before evaluation: %s, %v", names(got), err)
	}
	nix := map[string][]string{"b": {"db"}}
	known := func(m *spec.Machine) ([]string, bool) {
		if len(m.Tags) > 0 {
			return m.Tags, true
		}
		return nix[m.Name], true
	}
	got, err = machines.SelectTags(cfg, []string{"@db"}, nil, known)
	if err != nil || names(got) != "b" {
		t.Errorf("--on @db: %s, %v", names(got), err)
	}
	got, err = machines.SelectTags(cfg, nil, []string{"@db"}, known)
	if err != nil || names(got) != "a,c" {
		t.Errorf("--exclude @db: %s, %v", names(got), err)
	}
	if _, err := machines.SelectTags(cfg, []string{"@dc"}, nil, known); err == nil || !strings.Contains(err.Error(), "tags: @db, @web; did you mean @db?") {
		t.Errorf("--on @dc: %v", err)
	}
	m := machines.TagMatches(cfg.Machines, []string{"@db", "a"}, []string{"@w*"}, known)
	if len(m) != 2 || strings.Join(m["@db"], ",") != "machine.b" || strings.Join(m["@w*"], ",") != "machine.a" {
		t.Errorf("TagMatches: %v", m)
	}
}
