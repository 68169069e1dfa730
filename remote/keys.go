package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// DefaultKeyDir is where keys go when Key.DestDir is empty: the tmpfs NixOps
// uses, so that secrets never reach a disk and vanish at reboot.
const DefaultKeyDir = "/run/keys"

// Key is a secret file to place on a host (NixOps deployment.keys).
type Key struct {
	Name        string // file name inside DestDir
	Content     []byte
	DestDir     string // "" means "/run/keys"
	User, Group string // "" means "root"
	Permissions string // octal, "" means "0600"
}

// Path is where the key lands on the host: DestDir/Name with the defaults.
func (k Key) Path() string {
	return path.Join(k.dir(), k.Name)
}

func (k Key) dir() string {
	if k.DestDir == "" {
		return DefaultKeyDir
	}
	return k.DestDir
}

func (k Key) owner() string {
	user, group := k.User, k.Group
	if user == "" {
		user = "root"
	}
	if group == "" {
		group = "root"
	}
	return user + ":" + group
}

func (k Key) mode() string {
	if k.Permissions == "" {
		return "0600"
	}
	return k.Permissions
}

// validate checks what would otherwise reach the host's shell as a path or
// an option: names are single path components, modes are octal, owners
// cannot smuggle a second ":".
func (k Key) validate() error {
	switch {
	case k.Name == "":
		return fmt.Errorf("key has no name")
	case strings.Contains(k.Name, "/") || k.Name == "." || k.Name == "..":
		return fmt.Errorf("key name %q must be a file name, without \"/\" (put folders in dest_dir)", k.Name)
	case strings.ContainsRune(k.Name, 0):
		return fmt.Errorf("key name %q contains a NUL byte", k.Name)
	}
	if !path.IsAbs(k.dir()) {
		return fmt.Errorf("key %s: destination folder %q must be an absolute path", k.Name, k.DestDir)
	}
	if m := k.mode(); len(m) < 3 || len(m) > 4 || strings.Trim(m, "01234567") != "" {
		return fmt.Errorf("key %s: permissions %q must be octal, like \"0600\" or \"640\"", k.Name, k.Permissions)
	}
	for what, v := range map[string]string{"user": k.User, "group": k.Group} {
		if strings.ContainsAny(v, ":\n\x00") || strings.HasPrefix(v, "-") {
			return fmt.Errorf("key %s: %s %q is not a valid name", k.Name, what, v)
		}
	}
	return nil
}

// uploadKeyScript writes stdin to a key file atomically. $1 folder, $2 final
// path, $3 owner USER:GROUP, $4 mode, $5 expected size. The content arrives on
// stdin only; the script never prints it. A temporary file beside the
// destination makes the final mv a rename on one file system, so a reader
// sees the old key or the new one, never half of it, and never a moment in
// which the new key has the wrong owner or mode. The size check catches a
// connection lost mid-stream (cat would see a short EOF and succeed).
const uploadKeyScript = `set -e
umask 077
dir=$1
if [ ! -d "$dir" ]; then
  mkdir -p "$dir"
  if [ "$dir" = ` + DefaultKeyDir + ` ]; then
    chmod 0750 "$dir"
    chown root:keys "$dir" 2>/dev/null || true
  fi
fi
tmp=$(mktemp "$dir/.ferry-key.XXXXXXXX")
trap 'rm -f "$tmp"' EXIT
cat > "$tmp"
size=$(wc -c < "$tmp")
if [ "$size" -ne "$5" ]; then
  echo "received $size of $5 bytes (connection lost?)" >&2
  exit 1
fi
chown "$3" "$tmp"
chmod "$4" "$tmp"
mv -f "$tmp" "$2"
trap - EXIT`

// UploadKey writes k on the host atomically: the content travels on stdin
// only (never in a command line, an error or ExitError.Tail), into a
// temporary file in DestDir created under umask 077, which is then given its
// owner and mode and renamed over the destination. DestDir is created when
// missing (/run/keys with mode 0750 and group keys, as NixOps does).
func UploadKey(ctx context.Context, conn *Conn, k Key) error {
	host := conn.target.Name()
	if err := k.validate(); err != nil {
		return fmt.Errorf("upload key to %s: %w", host, err)
	}
	cmd := Command("sh", "-c", uploadKeyScript, "ferry-upload-key",
		k.dir(), k.Path(), k.owner(), k.mode(), strconv.Itoa(len(k.Content)))
	err := conn.Run(ctx, cmd, RunOptions{Stdin: bytes.NewReader(k.Content)})
	if err == nil {
		return nil
	}
	var exit *ExitError
	if errors.As(err, &exit) && (strings.Contains(exit.Tail, "invalid user") || strings.Contains(exit.Tail, "invalid group")) {
		return fmt.Errorf("upload key %s to %s: owner %s does not exist on the host: create the user and group first (users.users, users.groups) or change the key's user/group: %w",
			k.Path(), host, k.owner(), err)
	}
	return fmt.Errorf("upload key %s to %s: %w", k.Path(), host, err)
}
