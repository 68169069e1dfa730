package checked

import (
	"context"
	"fmt"

	"github.com/nixferry/ferry/providers"
)

func (c *resource) readMany(ctx context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, error) {
	resps, err := c.inner.(providers.BatchReader).ReadMany(ctx, reqs)
	priors := make([]map[string]any, 0, 2*len(reqs))
	for _, req := range reqs {
		priors = append(priors, req.Prior)
	}
	for _, resp := range resps {
		priors = append(priors, resp.State)
	}
	rep := c.report("ReadMany", batchAddr(reqs), priors...)
	if err != nil {
		return resps, rep.err(err)
	}
	if len(resps) != len(reqs) {
		// The engine matches responses to requests by position: a short
		// or long answer would give one object another's state.
		rep.add("%s for %s", count(len(resps), "response"), count(len(reqs), "request"))
		return nil, rep.err(nil)
	}
	for i, resp := range resps {
		if resp.State != nil {
			rep.state(resp.State, fmt.Sprintf("for %s after a read", reqs[i].Addr))
		}
	}
	return resps, rep.err(nil)
}

// count writes n things, in the singular for one.
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// batchAddr names a batch by its first address.
func batchAddr(reqs []providers.ReadRequest) string {
	switch len(reqs) {
	case 0:
		return ""
	case 1:
		return reqs[0].Addr
	default:
		return fmt.Sprintf("%s and %d more", reqs[0].Addr, len(reqs)-1)
	}
}

func (c *resource) importID(ctx context.Context, req providers.ImportRequest) (providers.ImportResponse, error) {
	resp, err := c.inner.(providers.Importer).Import(ctx, req)
	rep := c.report("Import", req.Addr, resp.State)
	if err != nil {
		return resp, rep.err(err)
	}
	if resp.State == nil {
		rep.add("no state and no error for ID %q (an ID that names nothing is an error that says so)", req.ID)
		return resp, rep.err(nil)
	}
	rep.state(resp.State, "after an import")
	return resp, rep.err(nil)
}

func (c *resource) adopt(ctx context.Context, req providers.AdoptRequest) (providers.ReadResponse, error) {
	resp, err := c.inner.(providers.Adopter).Adopt(ctx, req)
	rep := c.report("Adopt", req.Addr, req.Planned, resp.State)
	if err == nil && resp.State != nil {
		rep.state(resp.State, "after adoption")
	}
	return resp, rep.err(err)
}

func (c *resource) upgradeState(ctx context.Context, req providers.UpgradeRequest) (map[string]any, error) {
	st, err := c.inner.(providers.StateUpgrader).UpgradeState(ctx, req)
	rep := c.report(fmt.Sprintf("UpgradeState(from version %d)", req.Version), req.Addr, req.State, st)
	if err != nil {
		return st, rep.err(err)
	}
	if st == nil {
		rep.add("no state and no error")
		return st, rep.err(nil)
	}
	rep.state(st, "after an upgrade")
	return st, rep.err(nil)
}

// One small type per ability, each forwarding to the checker: Wrap embeds
// the ones the wrapped resource has, so that type assertions on the
// wrapper see exactly the abilities of the original.

type batchReader struct{ c *resource }

func (b batchReader) ReadMany(ctx context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, error) {
	return b.c.readMany(ctx, reqs)
}

type importer struct{ c *resource }

func (i importer) Import(ctx context.Context, req providers.ImportRequest) (providers.ImportResponse, error) {
	return i.c.importID(ctx, req)
}

type adopter struct{ c *resource }

func (a adopter) Adopt(ctx context.Context, req providers.AdoptRequest) (providers.ReadResponse, error) {
	return a.c.adopt(ctx, req)
}

type upgrader struct{ c *resource }

func (u upgrader) UpgradeState(ctx context.Context, req providers.UpgradeRequest) (map[string]any, error) {
	return u.c.upgradeState(ctx, req)
}
