// Command ferry deploys fleets of NixOS machines: plan, review, apply.
//
// main is a few lines: everything else is the importable package cli
// (kong commands, rendering, wiring of providers and state drivers), so
// that tests run the real command line in process.
package main
