package remote

import "context"

// CopyClosureWithRemoteNixStore is CopyClosure running nixStore instead of
// nix-store on the host, to simulate hosts without Nix or with a failing
// store.
func CopyClosureWithRemoteNixStore(ctx context.Context, conn *Conn, paths []string, nixStore string) (CopyStats, error) {
	tools := nixTools()
	tools.nixStore = nixStore
	c, err := prepareCopy(ctx, conn, paths, tools)
	if err != nil {
		return c.stats, err
	}
	return c.Stream(ctx, nil)
}
