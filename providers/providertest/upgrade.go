package providertest

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/providers"
)

// upgradeState: state of every older schema version becomes what the
// Case says, in the current shape.
func upgradeState(t *testing.T, c Case) {
	h := newHarness(t, c)
	u := h.r.(providers.StateUpgrader)
	covered := map[int]bool{}
	for _, up := range c.Upgrades {
		step := fmt.Sprintf("upgrade from version %d", up.Version)
		if up.Version < 0 || up.Version >= h.schema.Version {
			t.Errorf("%s: Case.Upgrades holds version %d, not older than the schema's %d", step, up.Version, h.schema.Version)
			continue
		}
		covered[up.Version] = true
		got, err := u.UpgradeState(h.ctx, providers.UpgradeRequest{Addr: h.addr, Version: up.Version, State: clone(up.State)})
		if err != nil {
			t.Errorf("%s: %v", step, err)
			continue
		}
		if diff := cmp.Diff(up.Want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", step, diff)
			continue
		}
		h.checkState(step, "UpgradeState", got, nil)
	}
	for v := range h.schema.Version {
		if !covered[v] {
			t.Errorf("Case.Upgrades has no state of version %d; every older version must upgrade", v)
		}
	}
}
