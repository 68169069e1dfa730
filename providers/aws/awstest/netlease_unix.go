//go:build unix

package awstest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// leaseNetwork takes the lowest second octet X of 127.X.0.0/16 that no
// other process holds, and holds it until release: an exclusive flock on
// a file per X in a folder of the temporary folder, which the kernel
// drops when the process dies. Test processes running at once (go test
// runs packages in parallel) thereby never give two instances' hosts the
// same address and port. skip lists the octets this process holds already.
func leaseNetwork(skip func(x int) bool) (x int, release func(), err error) {
	dir := filepath.Join(os.TempDir(), "ferry-awstest-networks")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return 0, nil, fmt.Errorf("lease a loopback network: %w", err)
	}
	for x := range 256 {
		if skip(x) {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("127.%d.lock", x)), os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			return 0, nil, fmt.Errorf("lease a loopback network: %w", err)
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			continue
		}
		if err != nil {
			f.Close()
			return 0, nil, fmt.Errorf("lease a loopback network: lock %s: %w", f.Name(), err)
		}
		return x, func() { f.Close() }, nil // closing drops the lock
	}
	return 0, nil, fmt.Errorf("lease a loopback network: other test processes hold every 127.X.0.0/16 (see %s)", dir)
}
