package cli

import (
	"fmt"
)

// DeleteCmd is `ferry delete` (NixOps's delete): remove a deployment, with
// its state history, from the state store.
type DeleteCmd struct {
	Yes bool `name:"yes" short:"y" help:"Delete without asking."`
}

// Run deletes the deployment named by -d (or the configuration) after
// asking, once its state holds no resource and no machine
// (engine.DeleteDeployment says what to run first otherwise).
func (c *DeleteCmd) Run(a *App) error {
	dep, err := a.deploymentName()
	if err != nil {
		return err
	}
	eng, closeStore, err := a.stateEngine()
	if err != nil {
		return err
	}
	defer closeStore()
	// Refuse before asking: a question whose answer cannot be acted on
	// wastes the user's time.
	if err := eng.CheckDeleteDeployment(a.ctx, dep); err != nil {
		return err
	}
	if !c.Yes {
		ok, err := a.confirm(fmt.Sprintf("Delete deployment %q from %s?\n  Its state history is removed; no resource or host is touched.", dep, eng.Store.URL()))
		if err != nil {
			return fmt.Errorf("no answer on standard input: pass --yes to delete deployment %q without asking", dep)
		}
		if !ok {
			return fmt.Errorf("delete cancelled: deployment %q is left as it is", dep)
		}
	}
	if err := eng.DeleteDeployment(a.ctx, dep, a.LockTimeout); err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "Deployment %q deleted from %s.\n", dep, eng.Store.URL())
	return nil
}
