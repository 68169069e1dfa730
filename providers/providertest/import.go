package providertest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/providers"
)

// importByID: Import of an existing object's ID returns what Read returns
// for it, and a plan of the same arguments over it replaces nothing; an ID
// that names nothing (never, or no longer) is an error naming the
// resource and the ID.
func importByID(t *testing.T, c Case) {
	h := newHarness(t, c)
	imp := h.r.(providers.Importer)
	cfg := Config(h.schema, c.Create)
	st := h.create("create", cfg)
	id := importID(c, st)
	if id == "" {
		t.Fatalf("create: state %v has no ID to import; set Case.ImportID", st)
	}

	resp, err := imp.Import(h.ctx, providers.ImportRequest{Addr: h.addr, ID: id})
	if err != nil {
		t.Fatalf("import of %q: %v", id, err)
	}
	h.checkState("import", "Import", h.withIgnored(resp.State, st), nil)
	if diff := cmp.Diff(h.without(h.read("read", st)), h.without(resp.State)); diff != "" {
		t.Errorf("import of %q differs from a Read of the object (-read +imported):\n%s", id, diff)
	}
	if p := h.plan("plan over the imported object", h.withIgnored(resp.State, st), cfg); len(p.RequiresReplace) > 0 {
		t.Errorf("plan over the imported object: the arguments it was created with require replacing %v", p.RequiresReplace)
	}

	missing := c.MissingID
	if missing == "" {
		missing = "ferry-conformance-missing"
	}
	h.importFails("import of an unknown ID", missing)
	h.delete("delete", st)
	if c.External {
		h.importFails("import of a deleted object's ID", id)
	}
}

func importID(c Case, st map[string]any) string {
	if c.ImportID != nil {
		return c.ImportID(st)
	}
	id, _ := st["id"].(string)
	return id
}

// withIgnored fills in the attributes Import cannot read from st, so that
// imported state can stand for st in later calls.
func (h *harness) withIgnored(imported, st map[string]any) map[string]any {
	out := clone(imported)
	for _, name := range h.c.ImportIgnore {
		if _, ok := out[name]; !ok {
			out[name] = st[name]
		}
	}
	return out
}

func (h *harness) importFails(step, id string) {
	h.t.Helper()
	resp, err := h.r.(providers.Importer).Import(h.ctx, providers.ImportRequest{Addr: h.addr, ID: id})
	h.noFault(fmt.Sprintf("%s %q", step, id), err)
	switch {
	case err == nil:
		h.t.Errorf("%s %q: returned %v and no error; an ID that names nothing is an error that says so", step, id, resp.State)
	case !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), h.addr):
		h.t.Errorf("%s %q: error %q does not name both %s and the ID", step, id, err, h.addr)
	}
}
