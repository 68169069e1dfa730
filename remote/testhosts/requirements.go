package testhosts

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// InstallCommand installs everything test hosts need on Debian.
const InstallCommand = "apt-get install -y nix-bin nix-setup-systemd openssh-server openssh-client util-linux iproute2 fdisk mtools dosfstools"

const sshdPath = "/usr/sbin/sshd"

// Check reports what this machine lacks to run test hosts, with the command
// that installs it.
func Check() error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (test hosts use mount and PID namespaces)")
	}
	for _, tool := range []string{"unshare", "mount", "nix-store"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if st, err := os.Stat(sshdPath); err != nil || st.IsDir() {
		missing = append(missing, sshdPath)
	}
	if st, err := os.Stat("/etc/nix"); err != nil || !st.IsDir() {
		missing = append(missing, "/etc/nix (from nix-setup-systemd)")
	}
	if len(missing) == 0 {
		return nil
	}
	return errors.New("test hosts cannot run here: missing " + strings.Join(missing, ", ") +
		fmt.Sprintf("; as root, install with: %s (or run remote/testhosts/install-deps.sh)", InstallCommand))
}
