package engine

import (
	"bytes"
	"context"
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
// clear. The plan and the state hold keyHash of each: a sha256 over a
// domain tag, the destination and the content, so that equal secrets at
// different destinations do not look equal. Text and file keys are read at
// plan time (a missing file fails the plan before anything is touched) and
// again at apply, where a content that no longer matches the planned hash
// makes the plan stale. Command keys run on the deployer at apply time,
// when their machine deploys (or with `ferry keys upload`): their hash is
// recorded after the upload.

// When keys are uploaded (key(upload_at = ...)).
const (
	keyPreActivation  = "pre-activation"
	keyPostActivation = "post-activation"
)

// keyCommandTimeout bounds a key command.
const keyCommandTimeout = 2 * time.Minute

func keyDest(k *spec.Key) string { return path.Join(k.DestDir, k.Name) }

func keyHash(dest string, content []byte) string {
	h := sha256.New()
	h.Write([]byte("ferry key\x00" + dest + "\x00"))
	h.Write(content)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
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

// planKeys lists m's keys with their hashes and whether they change
// compared with what state says was uploaded.
func planKeys(m *spec.Machine, rec *state.Machine) ([]*plan.Key, error) {
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
			pk.Hash = keyHash(pk.Dest, content)
			prev := ""
			if rec != nil {
				prev = rec.Keys[pk.Dest]
			}
			switch prev {
			case "":
				pk.Change = "new"
			case pk.Hash:
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
}

// resolveSecrets reads, for every machine apply touches, the content of
// its text and file keys from the configuration and checks them against
// the planned hashes; it refuses the plan when one changed.
func resolveSecrets(p *plan.Plan, cfg *spec.Config) (map[string][]*secret, error) {
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
			return nil, &StaleError{What: fmt.Sprintf("%s is no longer in the configuration", pm.Addr)}
		}
		byDest := map[string]*spec.Key{}
		for _, k := range m.Keys {
			byDest[keyDest(k)] = k
		}
		for _, pk := range pm.Keys {
			k := byDest[pk.Dest]
			if k == nil {
				return nil, &StaleError{What: fmt.Sprintf("key %s of %s is no longer in the configuration", pk.Name, pm.Addr)}
			}
			s := &secret{spec: k}
			content, known, err := readKey(m, k)
			if err != nil {
				return nil, err
			}
			if known {
				if keyHash(pk.Dest, content) != pk.Hash {
					return nil, &StaleError{What: fmt.Sprintf("key %s of %s (%s) changed since the plan", pk.Name, pm.Addr, pk.Source)}
				}
				s.content = content
			}
			out[pm.Addr] = append(out[pm.Addr], s)
		}
	}
	return out, nil
}

// uploadKeys uploads the secrets whose upload_at matches when ("" = all),
// running command keys first, and records their hashes in hashes.
func uploadKeys(ctx context.Context, conn *remote.Conn, addr string, secrets []*secret, when string, hashes map[string]string, progress func(string, ...any)) error {
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
		hashes[keyDest(s.spec)] = keyHash(keyDest(s.spec), content)
		names = append(names, s.spec.Name)
	}
	if len(names) > 0 && progress != nil {
		progress("uploaded %d key(s): %s", len(names), strings.Join(names, ", "))
	}
	return nil
}

// UploadMachineKeys uploads every configured key of m now (`ferry keys
// upload`), text and file keys read from the configuration and command
// keys run on the deployer. It returns the hashes to record in state by
// destination (those of prev for keys it could not upload) and the names
// of the keys uploaded.
func UploadMachineKeys(ctx context.Context, conn *remote.Conn, m *spec.Machine, prev map[string]string) (map[string]string, []string, error) {
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
		s := &secret{spec: k}
		if known {
			s.content = content
		}
		if err := uploadKeys(ctx, conn, m.Addr, []*secret{s}, "", hashes, nil); err != nil {
			return hashes, uploaded, err
		}
		uploaded = append(uploaded, k.Name)
	}
	return hashes, uploaded, nil
}
