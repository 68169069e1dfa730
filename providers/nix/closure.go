package nix

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrNotInStore is matched (errors.Is) by store queries about a path that
// is not (or no longer) in the Nix store.
var ErrNotInStore = errors.New("not in the Nix store")

// Closure returns the closure with the zero Nix (see Nix.Closure).
func Closure(ctx context.Context, paths ...string) ([]string, error) {
	return Nix{}.Closure(ctx, paths...)
}

// Closure returns the store paths paths refer to, directly or not,
// themselves included, sorted (nix-store --query --requisites). For a .drv
// this is the derivation closure: every .drv and source it is built from.
func (n Nix) Closure(ctx context.Context, paths ...string) ([]string, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	res, err := n.run(ctx, nil, "nix-store", append([]string{"--query", "--requisites"}, paths...)...)
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) && strings.Contains(ee.stderr, "is not valid") {
			return nil, fmt.Errorf("closure of %s: %w: %w", strings.Join(paths, " "), ErrNotInStore, err)
		}
		return nil, fmt.Errorf("closure of %s: %w", strings.Join(paths, " "), err)
	}
	var out []string
	for _, line := range strings.Split(string(res.stdout), "\n") {
		if line != "" {
			out = append(out, line)
		}
	}
	sort.Strings(out)
	return out, nil
}
