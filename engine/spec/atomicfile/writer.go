package atomicfile

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"sync"
)

// Writer is a process as a temporary file's name records it: its PID and
// a tag of its host and process scope. Tag is "" where the scope cannot
// be known; the files of such a writer are never judged.
type Writer struct {
	PID int
	Tag string
}

var self = sync.OnceValue(func() Writer {
	host, _ := os.Hostname()
	return Writer{PID: os.Getpid(), Tag: writerTag(host, ProcessScope())}
})

// Self is this process.
func Self() Writer { return self() }

// writerTag is a short digest of host and scope, "" when either is
// unknown.
func writerTag(host, scope string) string {
	if host == "" || scope == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(host + "\x00" + scope))
	return hex.EncodeToString(sum[:8])
}

// outlived says whether o, the writer of a temporary file, is a process
// of w's host and scope that no longer exists. A reused PID keeps the file
// until that process ends too.
func (w Writer) outlived(o Writer) bool {
	return w.Tag != "" && o.Tag == w.Tag && o.PID != w.PID && !ProcessAlive(o.PID)
}
