package gctune

import (
	"os"
	"runtime/debug"
)

// init runs before the packages that allocate the most while they
// initialise (the protocol buffer registrations of the cloud SDKs), so a
// collection or two during start-up is saved too.
func init() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(400)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(512 << 20)
	}
}
