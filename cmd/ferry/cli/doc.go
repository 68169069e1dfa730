// Package cli is ferry's command line: one kong struct and Run method per
// command (files named after the command), the wiring of providers and
// state drivers, and rendering for humans and --json. Business logic lives
// in engine, lang and providers; this package only connects them.
//
// gocloud.dev blob drivers are blank-imported here and nowhere else.
package cli
