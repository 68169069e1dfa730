// Package examples holds one folder per scenario. Every folder with a
// ferry.star is loaded and planned by this package's tests, so the examples
// in the README never rot.
package examples
