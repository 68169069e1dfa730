package checked

import (
	"context"

	"github.com/nixferry/ferry/providers"
)

// PowerSwitch returns the wrapped resource's power switch, its calls
// checked (providers.PowerSwitchOf finds it): the state it returns must
// fit the schema and be fully known.
func (c *resource) PowerSwitch() (providers.PowerSwitch, bool) {
	ps, ok := providers.PowerSwitchOf(c.inner)
	if !ok {
		return nil, false
	}
	return powerSwitch{c: c, inner: ps}, true
}

type powerSwitch struct {
	c     *resource
	inner providers.PowerSwitch
}

func (p powerSwitch) Power(ctx context.Context, req providers.PowerRequest) (providers.ReadResponse, error) {
	resp, err := p.inner.Power(ctx, req)
	rep := p.c.report("Power "+string(req.Op), req.Addr, req.State, resp.State)
	if err == nil {
		if resp.State == nil {
			rep.add("no state and no error (an object that is gone is an error that says so)")
		} else {
			rep.state(resp.State, "after a power operation")
		}
	}
	return resp, rep.err(err)
}
