// Command ferry deploys fleets of NixOS machines: plan, review, apply.
package main

import (
	"context"
	"os"

	"github.com/nixferry/ferry/cmd/ferry/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], cli.StdIO()))
}
