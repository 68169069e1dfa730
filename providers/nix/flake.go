package nix

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// flakeFeatures are the arguments that enable flakes for one command
// (Nix 2.8 keeps them experimental); ferry never needs them in nix.conf.
var flakeFeatures = []string{"--extra-experimental-features", "nix-command flakes"}

// Flake names a NixOS configuration of a flake: nixosConfigurations.<Attr>
// of the flake in the folder Dir (machine(flake = ".#web")).
//
// The flake is read as path:Dir, so the whole folder is copied to the
// store as it is on disk, tracked by git or not, and its inputs come from
// its flake.lock. Evaluation extends the configuration through
// extendModules with ferry's modules and the machine's own, with the
// module arguments name, nodes and resources, exactly as a machine
// evaluated from nixpkgs; the flake's own system type stays.
type Flake struct {
	Dir  string // absolute path of the folder holding flake.nix
	Attr string // the attribute of nixosConfigurations
}

// FlakeInput names an input of a flake (nixpkgs(flake = "./", input =
// "nixpkgs")): the nixpkgs machines not taken from a flake are evaluated
// with, as that flake's flake.lock pins it.
type FlakeInput struct {
	Dir   string // absolute path of the folder holding flake.nix and flake.lock
	Input string // the input's name in flake.nix: "nixpkgs"
}

// IsZero reports whether no flake input is named.
func (f FlakeInput) IsZero() bool { return f == FlakeInput{} }

// flakeURL is how evaluation names the flake in Dir.
func flakeURL(dir string) string { return "path:" + dir }

// FlakeInputPin returns what pins a flake input: the NAR hash its
// flake.lock records for it ("sha256-..."), which names the input's
// content; Nix refuses an input whose content does not match it. It reads
// the lock only: no Nix, no network.
func FlakeInputPin(in FlakeInput) (string, error) {
	lock, err := readFlakeLock(in.Dir)
	if err != nil {
		return "", err
	}
	root := lock.Nodes[lock.Root]
	ref, ok := root.Inputs[in.Input]
	if !ok {
		names := make([]string, 0, len(root.Inputs))
		for name := range root.Inputs {
			names = append(names, name)
		}
		sort.Strings(names)
		return "", fmt.Errorf("flake %s: flake.lock has no input %q (it has: %s); name an input of the flake's inputs, or run `nix flake lock` after adding it", in.Dir, in.Input, strings.Join(names, ", "))
	}
	var node string
	if err := json.Unmarshal(ref, &node); err != nil {
		return "", fmt.Errorf("flake %s: input %q follows another input (%s); name the input it follows", in.Dir, in.Input, ref)
	}
	hash := lock.Nodes[node].Locked.NarHash
	if hash == "" {
		return "", fmt.Errorf("flake %s: flake.lock records no narHash for input %q; run `nix flake lock` to lock it", in.Dir, in.Input)
	}
	return hash, nil
}

// flakeLock is the part of flake.lock (version 7) ferry reads.
type flakeLock struct {
	Root  string `json:"root"`
	Nodes map[string]struct {
		Inputs map[string]json.RawMessage `json:"inputs"` // a node name, or a follows path
		Locked struct {
			NarHash string `json:"narHash"`
		} `json:"locked"`
	} `json:"nodes"`
}

func readFlakeLock(dir string) (*flakeLock, error) {
	file := filepath.Join(dir, "flake.lock")
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("flake %s has no flake.lock: run `nix flake lock` there (with path: inputs it needs no network)", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("flake %s: %w", dir, err)
	}
	var lock flakeLock
	if err := json.Unmarshal(data, &lock); err != nil {
		return nil, fmt.Errorf("flake %s: flake.lock: %w", dir, err)
	}
	if lock.Root == "" {
		lock.Root = "root"
	}
	return &lock, nil
}

// networkHints are fragments of Nix's messages when fetching an input
// needs the network that this machine cannot reach.
var networkHints = []string{
	"unable to download", "Could not resolve host", "Couldn't resolve host",
	"Failed to connect", "Connection refused", "Network is unreachable",
	"cannot fetch", "Resolving timed out",
}

// needsNetwork reports whether Nix's message says a download failed.
func needsNetwork(msg string) bool {
	for _, h := range networkHints {
		if strings.Contains(msg, h) {
			return true
		}
	}
	return false
}

// networkAdvice is added to an evaluation error of flakes that needed the
// network.
const networkAdvice = "a flake input needs the network, which Nix could not reach: use path: inputs, or fetch the locked inputs beforehand where the network is reachable (`nix flake archive` in the flake's folder) so Nix finds them in the store"

// checkFlakeDir checks that dir is an absolute folder holding flake.nix.
func checkFlakeDir(dir string) error {
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("flake %q is not an absolute path", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "flake.nix")); err != nil {
		return fmt.Errorf("flake %s has no flake.nix (%w); point flake at the folder holding flake.nix", dir, err)
	}
	return nil
}
