package main

import (
	"context"
	"os"

	"github.com/nixferry/ferry/cmd/ferry/cli"
	_ "github.com/nixferry/ferry/cmd/ferry/internal/gctune" // before the SDKs initialise
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], cli.StdIO()))
}
