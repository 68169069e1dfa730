// Package nixtest helps tests (and demos run from the source tree) use the
// real Nix with ferry's stub nixpkgs in providers/nix/testdata/nixpkgs.
//
// It must not import package nix (nix's own tests import this package), and
// it never skips: a test that needs Nix fails, saying what to install.
package nixtest
