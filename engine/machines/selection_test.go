package machines_test

import (
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
