package machines

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/remote"
)

// Keys (secrets) never enter a plan, the state, an event or an error in
// clear. The plan and the state hold keyHash of each: an HMAC-SHA256,
// keyed by the deployment's plan key (statestore.Store.PlanKey, which is
// never in a plan and is sealed in the state store when state encryption
// is on), over a domain tag, the destination and the content. Keyed, a
// leaked plan or state cannot be used to guess a short secret offline
// (an unkeyed sha256 of a weak key text gave it back in milliseconds);
// with the destination in it, equal secrets at different destinations do
// not look equal. Text and file keys are read at plan time (a missing
// file fails the plan before anything is touched) and again at apply,
// where a content that no longer matches the planned hash makes the plan
// stale. Command keys run on the deployer at apply time, when their
// machine deploys (or with `ferry keys upload`): their hash is recorded
// after the upload.
//
// Hashes recorded by an older ferry ("sha256:...") are still compared,
// the old way, so that upgrading does not make every key look changed
// (and every machine upload its keys again); each is replaced by a keyed
// hash the next time its key is uploaded (a deploy of its machine, or
// `ferry keys upload`). A new plan key (one deleted, or a deployment
// deleted and made again) makes every recorded keyed hash look changed:
// the next apply uploads the keys again, which is harmless.

// When keys are uploaded (key(upload_at = ...)).
const (
	keyPreActivation  = "pre-activation"
	keyPostActivation = "post-activation"
)

// keyCommandTimeout bounds a key command.
const keyCommandTimeout = 2 * time.Minute

func keyDest(k *spec.Key) string { return path.Join(k.DestDir, k.Name) }

// Prefixes of key hashes: keyed (this ferry), and plain (older ones).
const (
	keyHashPrefix       = "hmac-sha256:"
	legacyKeyHashPrefix = "sha256:"
)

// keyHash is what plans and state record of a key's content: an
// HMAC-SHA256 keyed by the deployment's plan key over the domain tag, the
// destination and the content. A nil planKey (a plan that is never
// written or applied: BuildPlan) keys it with a random key of this
// process: never comparable with state, never a digest to guess from.
func keyHash(planKey []byte, dest string, content []byte) string {
	return keyHashPrefix + plan.KeyedDigest(planKey, "ferry key\x00"+dest+"\x00", content)
}

// legacyKeyHash is keyHash as older ferry versions computed it: a plain
// sha256, kept only to compare the hashes they recorded.
func legacyKeyHash(dest string, content []byte) string {
	h := sha256.New()
	h.Write([]byte("ferry key\x00" + dest + "\x00"))
	h.Write(content)
	return legacyKeyHashPrefix + hex.EncodeToString(h.Sum(nil))
}

// keyHashMatches reports whether recorded (in state or a plan) is the
// hash of content at dest: a keyed hash with planKey, an older ferry's
// plain one the old way.
func keyHashMatches(planKey []byte, recorded, dest string, content []byte) bool {
	want := keyHash(planKey, dest, content)
	if strings.HasPrefix(recorded, legacyKeyHashPrefix) {
		want = legacyKeyHash(dest, content)
	}
	return hmac.Equal([]byte(recorded), []byte(want))
}

// readKey returns a text or file key's content; ok is false for a command
// key, whose content exists only at apply.
func readKey(m *spec.Machine, k *spec.Key) (content []byte, ok bool, err error) {
	switch {
	case k.File != "":
		data, err := os.ReadFile(k.File)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, true, spec.Errorf(k.Pos, fmt.Sprintf("machine %s: key %s: cannot read %s: %v; create the file or fix key(file = ...)", m.Name, k.Name, k.File, err))
		}
		return data, true, nil
	case len(k.Command) > 0:
		return nil, false, nil
	}
	return []byte(k.Text), true, nil
}

// runKeyCommand runs a command key on the deployer. Its output is the
// secret, so only its stderr tail goes into an error.
func runKeyCommand(ctx context.Context, m string, k *spec.Key) ([]byte, error) {
	return runKeyCommandWithin(ctx, m, k, keyCommandTimeout)
}

func runKeyCommandWithin(ctx context.Context, m string, k *spec.Key, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.Command[0], k.Command[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// The command's children go too when it times out, and a child that
	// keeps the output open does not hold ferry past the timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("no answer within %s", timeout)
		}
		tail := strings.TrimSpace(stderr.String())
		if len(tail) > 500 {
			tail = "..." + tail[len(tail)-500:]
		}
		if tail != "" {
			tail = ": " + tail
		}
		return nil, fmt.Errorf("key %s of %s: command %s failed: %v%s", k.Name, m, k.Command[0], err, tail)
	}
	return stdout.Bytes(), nil
}

// planKeys lists m's keys with their hashes (keyed by planKey, the
// deployment's plan key) and whether they change compared with what state
// says was uploaded.
func planKeys(m *spec.Machine, rec *state.Machine, planKey []byte) ([]*plan.Key, error) {
	var out []*plan.Key
	for _, k := range m.Keys {
		pk := &plan.Key{Name: k.Name, Dest: keyDest(k), User: k.User, Group: k.Group, Permissions: k.Permissions,
			UploadAt: k.UploadAt, Source: k.Source(), DeclaredAt: k.Pos.String()}
		content, known, err := readKey(m, k)
		if err != nil {
			return nil, err
		}
		switch {
		case !known:
			pk.Change = "at apply"
		default:
			pk.Hash = keyHash(planKey, pk.Dest, content)
			prev := ""
			if rec != nil {
				prev = rec.Keys[pk.Dest]
			}
			switch {
			case prev == "":
				pk.Change = "new"
			case keyHashMatches(planKey, prev, pk.Dest, content):
				pk.Change = "unchanged"
			default:
				pk.Change = "changed"
			}
		}
		out = append(out, pk)
	}
	return out, nil
}

// keysChanged reports whether a planned text or file key differs from
// what was uploaded.
func keysChanged(keys []*plan.Key) bool {
	for _, k := range keys {
		if k.Change == "new" || k.Change == "changed" {
			return true
		}
	}
	return false
}

// secret is a key's content ready for upload.
type secret struct {
	spec    *spec.Key
	content []byte // nil for a command key until it ran
	// planKey keys the hash recorded after the upload.
	planKey []byte
}

// Secrets are the keys an apply uploads, by machine address, their
// contents read and checked (ResolveSecrets). They never leave this
// package: not in an event, an error or the state.
type Secrets struct{ byAddr map[string][]*secret }

// of returns the secrets of the machine at addr.
func (s Secrets) of(addr string) []*secret { return s.byAddr[addr] }

// ResolveSecrets reads, for every machine apply touches, the content of
// its text and file keys from the configuration and checks them against
// the planned hashes (keyed by planKey, the deployment's plan key, which
// also keys the hashes recorded after the uploads); it refuses the plan
// with a *plan.StaleError when one changed.
//
// nixKeys are the keys of deployment.keys, by machine address
// (Pipeline.NixKeys); nil when the plan has none.
func ResolveSecrets(p *plan.Plan, cfg *spec.Config, planKey []byte, nixKeys map[string][]*spec.Key) (Secrets, error) {
	s, err := resolveSecrets(p, cfg, planKey, nixKeys)
	return Secrets{byAddr: s}, err
}

func resolveSecrets(p *plan.Plan, cfg *spec.Config, planKey []byte, nixKeys map[string][]*spec.Key) (map[string][]*secret, error) {
	out := map[string][]*secret{}
	for _, pm := range p.Machines {
		if len(pm.Keys) == 0 || (pm.Action != plan.Deploy && pm.Action != plan.UploadKeys) {
			continue
		}
		if cfg == nil {
			return nil, fmt.Errorf("%s uploads keys, but apply was given no configuration to read them from (ApplyOptions.Config)", pm.Addr)
		}
		m := cfg.MachineByName(pm.Name)
		if m == nil {
			return nil, &plan.StaleError{What: fmt.Sprintf("%s is no longer in the configuration", pm.Addr)}
		}
		byDest := map[string]*spec.Key{}
		for _, k := range append(append([]*spec.Key(nil), m.Keys...), nixKeys[pm.Addr]...) {
			byDest[keyDest(k)] = k
		}
		for _, pk := range pm.Keys {
			k := byDest[pk.Dest]
			if k == nil {
				return nil, &plan.StaleError{What: fmt.Sprintf("key %s of %s is no longer in the configuration", pk.Name, pm.Addr)}
			}
			s := &secret{spec: k, planKey: planKey}
			content, known, err := readKey(m, k)
			if err != nil {
				return nil, err
			}
			if known {
				if !keyHashMatches(planKey, pk.Hash, pk.Dest, content) {
					return nil, &plan.StaleError{What: fmt.Sprintf("key %s of %s (%s) changed since the plan", pk.Name, pm.Addr, pk.Source)}
				}
				s.content = content
			}
			out[pm.Addr] = append(out[pm.Addr], s)
		}
	}
	return out, nil
}

// upload uploads the secrets whose upload_at matches when ("" = all),
// running command keys first, and records their hashes in hashes.
func upload(ctx context.Context, conn *remote.Conn, addr string, secrets []*secret, when string, hashes map[string]string, progress func(string, ...any)) error {
	var names []string
	for _, s := range secrets {
		if when != "" && s.spec.UploadAt != when {
			continue
		}
		content := s.content
		if content == nil {
			var err error
			if content, err = runKeyCommand(ctx, addr, s.spec); err != nil {
				return err
			}
		}
		k := remote.Key{Name: s.spec.Name, Content: content, DestDir: s.spec.DestDir, User: s.spec.User, Group: s.spec.Group, Permissions: s.spec.Permissions}
		if err := remote.UploadKey(ctx, conn, k); err != nil {
			return fmt.Errorf("upload key %s: %w", s.spec.Name, err)
		}
		hashes[keyDest(s.spec)] = keyHash(s.planKey, keyDest(s.spec), content)
		names = append(names, s.spec.Name)
	}
	if len(names) > 0 && progress != nil {
		progress("uploaded %s: %s", spec.Count(len(names), "key"), strings.Join(names, ", "))
	}
	return nil
}

// UploadKeys uploads every configured key of m now (`ferry keys
// upload`), text and file keys read from the configuration and command
// keys run on the deployer. It returns the hashes to record in state by
// destination, keyed by planKey, the deployment's plan key
// (engine.Engine.PlanKey), those of prev for keys it could not upload,
// and the names of the keys uploaded.
func UploadKeys(ctx context.Context, conn *remote.Conn, m *spec.Machine, prev map[string]string, planKey []byte) (map[string]string, []string, error) {
	if len(planKey) == 0 {
		return nil, nil, fmt.Errorf("upload keys of %s: no plan key to hash them with", m.Addr)
	}
	hashes := map[string]string{}
	for _, k := range m.Keys {
		if h, ok := prev[keyDest(k)]; ok {
			hashes[keyDest(k)] = h
		}
	}
	var uploaded []string
	for _, k := range m.Keys {
		content, known, err := readKey(m, k)
		if err != nil {
			return hashes, uploaded, err
		}
		s := &secret{spec: k, planKey: planKey}
		if known {
			s.content = content
		}
		if err := upload(ctx, conn, m.Addr, []*secret{s}, "", hashes, nil); err != nil {
			return hashes, uploaded, err
		}
		uploaded = append(uploaded, k.Name)
	}
	return hashes, uploaded, nil
}
