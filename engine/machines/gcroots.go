package machines

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers/nix"
)

// Garbage collector roots of plans.
//
// A plan pins the toplevel .drv of every machine it deploys; evaluation
// writes them to the Nix store unprotected, so a garbage collection between
// `ferry plan` and `ferry apply PLAN` would remove them. Plan therefore
// registers an indirect GC root for each (nix.AddDrvRoots: one
// nix-instantiate for all machines), apply releases each once it is done
// with it (built here, or copied to the target that builds it), and
// `ferry plan --clean` releases all that a deployment holds
// (CleanPlanRoots). A plan that is never saved holds roots until one of
// those, unless its caller releases them (ReleasePlanRoots).
//
// Layout, beside the configuration:
//
//	<config dir>/.ferry/.gcroots/<deployment>/<serial>-<id>/drv, drv-2, ...
//
// The roots live with the configuration on the machine that evaluated it,
// as the Nix store does: deleting the project deletes the links, and Nix
// then drops the roots by itself. The folder starts with '.' so that a
// file:// state store in .ferry (the default) never takes it for a
// deployment. <serial> is the state serial the plan was made against and
// <id> a digest of what the plan file holds (planRootsID), so apply finds a
// plan's folder from the plan alone. A plan made against another serial
// than the state's can never be applied (apply refuses it as stale): the
// next plan of the deployment releases the roots of such plans, so plans
// that were only looked at (no --out) do not hold roots for long.

// gcRootsDir is the folder of a deployment's plan roots.
func gcRootsDir(configDir, deployment string) string {
	return filepath.Join(configDir, ".ferry", ".gcroots", deployment)
}

// planRootsID names a plan's roots: a digest of the deployment, the state
// it was made against, its creation time and options, and every machine's
// derivation, all of which the plan file carries unchanged to apply.
func planRootsID(p *plan.Plan) string {
	h := sha256.New()
	opts, _ := json.Marshal(p.Options)
	fmt.Fprintf(h, "ferry plan roots\x00%s\x00%s\x00%d\x00%s\x00%s\n",
		p.Deployment, p.State.Lineage, p.State.Serial, p.CreatedAt.UTC().Format(time.RFC3339Nano), opts)
	var machines []string
	for _, m := range p.Machines {
		if m.Drv != "" {
			machines = append(machines, m.Addr+"\x00"+m.Drv)
		}
	}
	slices.Sort(machines)
	for _, m := range machines {
		fmt.Fprintf(h, "%s\n", m)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// planRootsFolder is the folder of p's roots; "" without a configuration
// folder (a configuration built in memory pins nothing).
func planRootsFolder(configDir string, p *plan.Plan) string {
	if configDir == "" || !filepath.IsAbs(configDir) {
		return ""
	}
	return filepath.Join(gcRootsDir(configDir, p.Deployment), fmt.Sprintf("%d-%s", p.State.Serial, planRootsID(p)))
}

// planDrvs are the derivations apply needs on this machine: those of the
// machines it deploys, built here or copied to the target that builds them,
// and the disko scripts of the installs that wipe (built here).
func planDrvs(p *plan.Plan) []string {
	var drvs []string
	for _, m := range p.Machines {
		if m.Action == plan.Deploy && m.Drv != "" {
			drvs = append(drvs, m.Drv)
		}
		if d := diskoDrv(m); d != "" {
			drvs = append(drvs, d)
		}
	}
	slices.Sort(drvs)
	return slices.Compact(drvs)
}

// diskoDrv is the derivation of the disko script apply builds and runs for
// m, if its install redoes the disko phase.
func diskoDrv(m *plan.Machine) string {
	if m.Action == plan.Deploy && m.Install != nil && slices.Contains(m.Install.Redo(), "disko") {
		return m.Install.DiskoDrv
	}
	return ""
}

// pinRoots registers the plan's derivations as GC roots; Plan calls it once every machine is planned. It first releases the roots of
// the deployment's plans that can no longer be applied. A failure only
// warns: the plan is right, just unprotected, and apply says clearly when
// its derivations are gone.
func (b *planner) pinRoots(ctx context.Context, p *plan.Plan) {
	folder := planRootsFolder(b.cfg.Dir, p)
	if folder == "" {
		return
	}
	releaseStaleRoots(filepath.Dir(folder), p.State.Serial)
	drvs := planDrvs(p)
	if len(drvs) == 0 {
		return
	}
	if _, err := b.pl.Nix.AddDrvRoots(ctx, filepath.Join(folder, "drv"), drvs); err != nil {
		b.sink.Warning("", fmt.Sprintf(
			"could not protect the plan's %s from garbage collection (%v): a garbage collection before apply removes them, and apply then asks for a new plan", spec.Count(len(drvs), "derivation"), err))
	}
}

// releaseStaleRoots releases the roots of plans made against another state
// serial than serial (apply refuses them). Failures are left for the next
// run.
func releaseStaleRoots(dir string, serial uint64) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, de := range des {
		s, _, ok := strings.Cut(de.Name(), "-")
		n, err := strconv.ParseUint(s, 10, 64)
		if de.IsDir() && ok && err == nil && n != serial {
			_, _ = nix.RemoveRoots(filepath.Join(dir, de.Name()))
		}
	}
}

// MissingDerivationsError refuses a plan whose derivations this machine's
// Nix store lacks: the plan was made on another machine, or a garbage
// collection removed them.
type MissingDerivationsError struct {
	// Drvs maps each missing derivation to the machines that deploy it.
	Drvs map[string][]string
}

func (e *MissingDerivationsError) Error() string {
	drvs := sortedKeys(e.Drvs)
	var b strings.Builder
	fmt.Fprintf(&b, "refused: this machine's Nix store lacks %d of the plan's derivations (", len(drvs))
	const shown = 3
	for i, drv := range drvs[:min(len(drvs), shown)] {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s for %s", drv, strings.Join(e.Drvs[drv], ", "))
	}
	if len(drvs) > shown {
		fmt.Fprintf(&b, " and %d more", len(drvs)-shown)
	}
	b.WriteString("): the plan was made on another machine, or a garbage collection removed them; nothing was built and no host was touched; run `ferry plan` here to evaluate again")
	return b.String()
}

// CheckDerivations fails with a *MissingDerivationsError when this
// machine's Nix store lacks derivations that p deploys, with one
// nix-store --check-validity for all.
func (pl *Pipeline) CheckDerivations(ctx context.Context, p *plan.Plan) error {
	drvs := planDrvs(p)
	if len(drvs) == 0 {
		return nil
	}
	missing, err := pl.Nix.MissingPaths(ctx, drvs)
	if err != nil {
		return fmt.Errorf("check the plan's derivations: %w", err)
	}
	if len(missing) == 0 {
		return nil
	}
	me := &MissingDerivationsError{Drvs: map[string][]string{}}
	for _, drv := range missing {
		me.Drvs[drv] = nil
	}
	for _, m := range p.Machines {
		if _, ok := me.Drvs[m.Drv]; ok && m.Action == plan.Deploy {
			me.Drvs[m.Drv] = append(me.Drvs[m.Drv], m.Addr)
		}
		if d := diskoDrv(m); d != "" {
			if _, ok := me.Drvs[d]; ok {
				me.Drvs[d] = append(me.Drvs[d], m.Addr+" (disko)")
			}
		}
	}
	return me
}

// planRoots is what an apply knows of its plan's derivations: whether this
// machine has them, and which roots it still holds. A nil *planRoots holds
// nothing and refuses nothing.
type planRoots struct {
	folder  string // "" when the plan has no roots folder here
	missing error  // a *MissingDerivationsError: every machine is refused

	mu    sync.Mutex
	users map[string]int // drv -> uses not done yet
}

// startRoots checks, before anything is built, that this machine has the
// plan's derivations (Start calls it). Each derivation's root is
// released once its last use is done: the one local build of all systems
// built here, and each copy of a derivation to a target that builds it.
func (run *Run) startRoots(configDir string) *planRoots {
	r := &planRoots{folder: planRootsFolder(configDir, run.p), users: map[string]int{}}
	r.missing = run.pl.CheckDerivations(run.ctx, run.p)
	local := map[string]bool{}
	for _, m := range run.p.Machines {
		switch {
		case m.Action != plan.Deploy || m.Drv == "":
		case m.BuildOnTarget || m.BuildHost != nil:
			r.users[m.Drv]++
		case !local[m.Drv]:
			local[m.Drv] = true
			r.users[m.Drv]++
		}
		if d := diskoDrv(m); d != "" && !local[d] {
			local[d] = true
			r.users[d]++
		}
	}
	return r
}

// refused is the error every machine of the apply fails with, if any.
func (r *planRoots) refused() error {
	if r == nil {
		return nil
	}
	return r.missing
}

// built is called when the local build finished: the roots of the systems
// that built are released (their outputs now exist; a failed one keeps its
// root, so the plan can be applied again).
func (r *planRoots) built(builds map[string]nix.BuildResult) {
	var done []string
	for drv, res := range builds {
		if res.Err == nil {
			done = append(done, drv)
		}
	}
	r.done(done...)
}

// done records that drvs were used once more and releases the roots of
// those with no use left.
func (r *planRoots) done(drvs ...string) {
	if r == nil || r.folder == "" {
		return
	}
	r.mu.Lock()
	var release []string
	for _, drv := range drvs {
		if n, ok := r.users[drv]; ok {
			r.users[drv] = n - 1
			if n == 1 {
				release = append(release, drv)
			}
		}
	}
	r.mu.Unlock()
	if len(release) > 0 {
		_, _ = nix.RemoveRoots(r.folder, release...)
		_ = os.Remove(filepath.Dir(r.folder)) // the deployment's folder, once empty
	}
}

// ReleasedRoots is what `ferry plan --clean` released.
type ReleasedRoots struct {
	Deployment string `json:"deployment"`
	Plans      int    `json:"plans"` // plans whose roots were released
	Roots      int    `json:"roots"` // derivations released
	Dir        string `json:"dir"`   // the deployment's roots folder
}

// ReleasePlanRoots releases the GC roots p holds in configDir, for a plan
// that will never be applied: one that was shown but not saved, or whose
// plan-less apply was declined. It returns how many it released.
func ReleasePlanRoots(configDir string, p *plan.Plan) (int, error) {
	folder := planRootsFolder(configDir, p)
	if folder == "" {
		return 0, nil
	}
	n, err := nix.RemoveRoots(folder)
	_ = os.Remove(filepath.Dir(folder)) // fails unless empty
	return n, err
}

// CheckRootsDir says why configDir cannot hold plan roots: it must be an
// absolute configuration folder.
func CheckRootsDir(configDir string) error {
	if configDir == "" || !filepath.IsAbs(configDir) {
		return fmt.Errorf("release plan roots: %q is not an absolute configuration folder", configDir)
	}
	return nil
}

// CleanPlanRoots releases every GC root that plans of deployment hold in
// configDir: those of plans never applied, or whose apply did not finish
// with them. The caller holds the deployment's lock
// (engine.Engine.CleanPlanRoots), so that no plan or apply of it runs
// meanwhile. The released derivations stay in the store until a garbage
// collection; a saved plan whose roots were released can still be
// applied until then.
func CleanPlanRoots(configDir, deployment string) (ReleasedRoots, error) {
	out := ReleasedRoots{Deployment: deployment}
	if err := CheckRootsDir(configDir); err != nil {
		return out, err
	}
	out.Dir = gcRootsDir(configDir, deployment)
	des, err := os.ReadDir(out.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("release plan roots: %w", err)
	}
	var errs []error
	for _, de := range des {
		if !de.IsDir() {
			continue
		}
		n, err := nix.RemoveRoots(filepath.Join(out.Dir, de.Name()))
		if n > 0 {
			out.Plans++
			out.Roots += n
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	_ = os.Remove(out.Dir) // fails unless empty
	return out, errors.Join(errs...)
}
