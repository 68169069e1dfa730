package cli

import (
	"fmt"
	"strings"
)

// ScpCmd is `ferry scp [-r] SRC DST`, one side MACHINE:PATH.
type ScpCmd struct {
	Recursive bool   `short:"r" name:"recursive" help:"Copy directories with their contents."`
	Src       string `arg:"" name:"src" help:"What to copy: a local path, or MACHINE:PATH."`
	Dst       string `arg:"" name:"dst" help:"Where to: a local path, or MACHINE:PATH."`
}

// Run copies over ferry's own SSH, holding the host to the key pinned in
// the configuration or state (as every day-2 command does). As with scp,
// a destination that is an existing directory receives the source under
// its own name.
func (c *ScpCmd) Run(a *App) error {
	srcMachine, srcPath, srcRemote := splitRemote(c.Src)
	dstMachine, dstPath, dstRemote := splitRemote(c.Dst)
	switch {
	case srcRemote && dstRemote:
		return fmt.Errorf("scp %s %s: both sides are on machines: copy through this machine, one side at a time", c.Src, c.Dst)
	case !srcRemote && !dstRemote:
		return fmt.Errorf("scp %s %s: neither side is on a machine: write one as MACHINE:PATH", c.Src, c.Dst)
	}
	name, remotePath := srcMachine, srcPath
	if dstRemote {
		name, remotePath = dstMachine, dstPath
	}
	if remotePath == "" {
		remotePath = "." // the login's home directory, as scp
	}
	f, m, err := a.openMachine(name)
	if err != nil {
		return err
	}
	defer f.Close()
	conn, err := f.dial(a.ctx, m)
	if err != nil {
		return fmt.Errorf("machine %s: %w", m.Name, err)
	}
	if dstRemote {
		err = conn.Upload(a.ctx, c.Src, remotePath, c.Recursive)
	} else {
		err = conn.Download(a.ctx, remotePath, c.Dst, c.Recursive)
	}
	if err != nil {
		return fmt.Errorf("machine %s: %w", m.Name, err)
	}
	return nil
}

// splitRemote splits MACHINE:PATH. A path with a slash before its first
// colon (./a:b, /tmp/a:b) is local, as for scp.
func splitRemote(arg string) (machine, path string, remote bool) {
	i := strings.IndexByte(arg, ':')
	if i <= 0 || strings.ContainsRune(arg[:i], '/') {
		return "", arg, false
	}
	return arg[:i], arg[i+1:], true
}
