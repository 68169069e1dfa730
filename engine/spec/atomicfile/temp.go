package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Names is a scheme of temporary file names: a temporary file for the
// target NAME is "." + NAME + Mark + "<pid>-<tag>-<random>", hidden, and
// naming its writer; an unknown tag is written "x", which no sweeper's
// equals. Mark must hold a character other than '-', 'x' and lower-case
// hex digits, so that it cannot occur in the writer's part.
type Names struct {
	Mark string
}

// DefaultNames names a file's temporary files beside it:
// ".NAME.ferry-<pid>-<tag>-<random>".
var DefaultNames = Names{Mark: ".ferry-"}

// name is the temporary file name of w for target.
func (n Names) name(w Writer, target, random string) string {
	tag := w.Tag
	if tag == "" {
		tag = "x"
	}
	return fmt.Sprintf(".%s%s%d-%s-%s", target, n.Mark, w.PID, tag, random)
}

// writerOf returns the writer of a file that name named, whatever its
// target.
func (n Names) writerOf(file string) (Writer, bool) {
	i := strings.LastIndex(file, n.Mark)
	if !strings.HasPrefix(file, ".") || i < 1 {
		return Writer{}, false
	}
	parts := strings.SplitN(file[i+len(n.Mark):], "-", 3)
	if len(parts) != 3 || !isDigits(parts[0]) || parts[1] == "" || parts[2] == "" || strings.Trim(parts[2], "0123456789abcdef") != "" {
		return Writer{}, false
	}
	pid, err := strconv.Atoi(parts[0])
	if err != nil || pid <= 0 {
		return Writer{}, false
	}
	return Writer{PID: pid, Tag: parts[1]}, true
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// CreateTemp creates a new temporary file for target in dir, named after
// this process. Its mode is perm's owner bits at most (before the umask):
// while it is written nobody else can read it, and it allows nothing that
// perm does not.
func (n Names) CreateTemp(dir, target string, perm fs.FileMode) (*os.File, error) {
	me := Self()
	for range 100 {
		var b [6]byte
		_, _ = rand.Read(b[:])
		f, err := os.OpenFile(filepath.Join(dir, n.name(me, target, hex.EncodeToString(b[:]))), os.O_RDWR|os.O_CREATE|os.O_EXCL, perm.Perm()&0o600)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("create a temporary file in %s: every name tried exists", dir)
}
