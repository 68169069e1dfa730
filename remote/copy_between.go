package remote

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// CopyBetween copies the closures of paths from the host of src (a build
// host) to the host of dst (a target) directly: dst fetches them with
// nix-copy-closure --from over its own SSH connection to src, and no byte
// of the closure passes through this machine. Both Conns are ferry's,
// with their host keys checked.
//
// The direction is chosen so that no credential ever lands on src and
// src's host key stays pinned:
//
//   - ferry makes a one-time ed25519 key pair for this copy. Its public
//     half is added to src's authorized_keys restricted to
//     `restrict,command="nix-store --serve"`: read-only access to src's
//     store (no shell, no forwarding, no writes), and removed when the
//     copy ends, whatever the outcome. A run killed in between leaves the
//     line (named ferry-copy-<id>), which expires after a day.
//   - its private half travels to dst on stdin, lives in a private
//     temporary folder there for the copy and is deleted with it; dst is
//     the machine being deployed, which ferry controls as root anyway.
//   - dst's ssh client trusts only the key ferry verified on src
//     (src.HostKey()), through a known_hosts file of its own with strict
//     host key checking; the user's and the system's SSH client
//     configuration are ignored.
//
// The other direction (src pushes with `nix copy --to ssh://dst`) would
// put a key that can write to dst's store, as root, on the build host.
//
// dst must reach src at the address ferry dials (no jump host); src's
// user needs a writable ~/.ssh and flock(1) (util-linux), which guards
// authorized_keys against concurrent copies from the same build host.
func CopyBetween(ctx context.Context, src, dst *Conn, paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	var idBytes [8]byte
	if _, err := rand.Read(idBytes[:]); err != nil {
		return fmt.Errorf("copy from %s: %w", src.target.Name(), err)
	}
	tag := "ferry-copy-" + hex.EncodeToString(idBytes[:])
	priv, pub, err := NewHostKey(tag)
	if err != nil {
		return fmt.Errorf("copy from %s: make a one-time key: %w", src.target.Name(), err)
	}
	// expiry-time (OpenSSH 7.7) makes the key useless after a day even if
	// its removal fails; the host reads it in its own time zone, so a
	// day from now in UTC is at most 38 hours there.
	expiry := time.Now().UTC().Add(24 * time.Hour).Format("200601021504")
	line := `restrict,expiry-time="` + expiry + `",command="nix-store --serve" ` + pub + " " + tag

	// The one-time key belongs to the user dst logs in as, never to the
	// one sudo makes.
	login := &Conn{c: src.c, target: src.target}
	login.target.Sudo = false
	if err := login.Run(ctx, authorizeScript, RunOptions{Stdin: strings.NewReader(line + "\n")}); err != nil {
		return fmt.Errorf("allow %s to fetch from %s (a one-time key in its ~/.ssh/authorized_keys): %w", dst.target.Name(), src.target.Name(), err)
	}
	defer func() {
		// Whatever happened, the key goes (else it expires).
		_ = login.Run(context.WithoutCancel(ctx), revokeScript(tag), RunOptions{})
	}()

	t := src.target.withDefaults()
	known := "ferry-build-host " + strings.TrimSpace(src.HostKey())
	script := requireTool("nix-copy-closure") + fmt.Sprintf(`set -e
umask 077
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
IFS= read -r kh
printf '%%s\n' "$kh" > "$d/known_hosts"
cat > "$d/key"
export NIX_SSHOPTS="-F /dev/null -p %d -i $d/key -o IdentitiesOnly=yes -o IdentityAgent=none -o UserKnownHostsFile=$d/known_hosts -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o HostKeyAlias=ferry-build-host -o BatchMode=yes"
nix-copy-closure --from %s %s
`, t.Port, Quote(t.User+"@"+t.Host), Command(paths...))
	stdin := known + "\n" + string(priv)
	if err := dst.Run(ctx, script, RunOptions{Stdin: strings.NewReader(stdin)}); err != nil {
		return fmt.Errorf("%s fetching from %s (%s): %w", dst.target.Name(), src.target.Name(), t.String(), asNotFound(err, "nix-copy-closure"))
	}
	return nil
}

// authorizeScript appends the line on stdin to ~/.ssh/authorized_keys,
// under flock.
const authorizeScript = `set -e
umask 077
command -v flock >/dev/null 2>&1 || { echo "flock (util-linux) is needed to edit ~/.ssh/authorized_keys safely" >&2; exit 1; }
mkdir -p ~/.ssh
f=~/.ssh/authorized_keys
exec 9>>~/.ssh/.ferry-copy.lock
flock -w 60 9
touch "$f"
IFS= read -r line
if [ -s "$f" ] && [ -n "$(tail -c 1 "$f")" ]; then echo >> "$f"; fi
printf '%s\n' "$line" >> "$f"
`

// revokeScript removes the one-time key tagged tag from
// ~/.ssh/authorized_keys, under flock.
func revokeScript(tag string) string {
	return `set -e
umask 077
f=~/.ssh/authorized_keys
[ -f "$f" ] || exit 0
exec 9>>~/.ssh/.ferry-copy.lock
flock -w 60 9
grep -vF -- ` + Quote(tag) + ` "$f" > "$f.ferry-tmp" || true
cat "$f.ferry-tmp" > "$f"
rm -f "$f.ferry-tmp"
`
}
