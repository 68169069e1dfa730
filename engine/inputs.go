package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
)

// planInputs digests what evaluation read. Var values are hashed: they may
// be secret (keys take their text from vars) and the plan is meant to be
// read by reviewers. The hash is an HMAC keyed by the deployment's plan
// key (which is never in a plan) and domain-separated by the var's name,
// so a leaked plan cannot be used to guess a short secret offline, and
// equal values of two vars do not look equal. Without a key (a plan that
// is never written) it is keyed by a random key of this process.
func planInputs(in spec.Inputs, key []byte) plan.Inputs {
	out := plan.Inputs{Files: map[string]string{}, Vars: map[string]string{}}
	for f, h := range in.Files {
		out.Files[f] = h
	}
	for k, v := range in.Vars {
		out.Vars[k] = plan.KeyedDigest(key, "ferry var\x00"+k+"\x00", []byte(v))
	}
	out.Digest = inputsDigest(out)
	return out
}

func inputsDigest(in plan.Inputs) string {
	h := sha256.New()
	for _, kv := range [][2]any{{"file", in.Files}, {"var", in.Vars}} {
		m := kv[1].(map[string]string)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(h, "%s\x00%s\x00%s\n", kv[0], k, m[k])
		}
	}
	if in.Nixpkgs != "" {
		fmt.Fprintf(h, "nixpkgs\x00\x00%s\n", in.Nixpkgs)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// checkInputs verifies that every file the plan was computed from still has
// the content it had, and that the nixpkgs its machines were evaluated
// with is the same, so apply never runs a plan whose inputs moved on.
func (e *Engine) checkInputs(ctx context.Context, dir string, p *plan.Plan) error {
	in := p.Inputs
	if got := inputsDigest(in); got != in.Digest {
		return &plan.StaleError{What: "the plan's input digest does not match its input list (the plan file was edited)"}
	}
	files := make([]string, 0, len(in.Files))
	for f := range in.Files {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			return &plan.StaleError{What: fmt.Sprintf("input %s is no longer readable (%v)", f, err)}
		}
		if sha256Hex(data) != in.Files[f] {
			return &plan.StaleError{What: fmt.Sprintf("input %s changed since the plan was made", f)}
		}
	}
	if in.Nixpkgs != "" {
		name := p.Nixpkgs
		switch {
		case p.NixpkgsFlake != nil:
			name = fmt.Sprintf("input %s of the flake in %s", p.NixpkgsFlake.Input, p.NixpkgsFlake.Dir)
		case name == "":
			name = "<nixpkgs>"
		}
		now, err := e.pipeline().NixpkgsPin(ctx, p.Nixpkgs, p.NixpkgsFlake)
		switch {
		case err != nil:
			return &plan.StaleError{What: fmt.Sprintf("nixpkgs (%s) can no longer be read: %v", name, err)}
		case now != in.Nixpkgs:
			return &plan.StaleError{What: fmt.Sprintf("nixpkgs (%s) changed since the plan was made (%s, now %s)", name, in.Nixpkgs, now)}
		}
	}
	return nil
}
