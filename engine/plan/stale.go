package plan

// StaleError refuses a plan that no longer matches the world it was
// computed against: the state moved, an input file or nixpkgs changed, a
// key's content changed, the plan file was edited. Apply returns it before
// anything runs; the engine core and the machine pipeline
// (engine/machines) both raise it, hence its home here.
type StaleError struct {
	What string
	// Applied marks a plan that was applied already (What says when):
	// nothing changed behind its back, it is simply used up.
	Applied bool
}

func (e *StaleError) Error() string {
	if e.Applied {
		return e.What + "; run `ferry plan` for a new one"
	}
	return "plan is stale: " + e.What + "; run `ferry plan` again and review the new plan"
}
