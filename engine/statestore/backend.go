package statestore

import (
	"context"
	"errors"
	"time"
)

// Errors a backend returns unwrapped; Store adds the object URL.
var (
	errNotFound = errors.New("object does not exist")
	errExists   = errors.New("object already exists")
)

// entry is one child of a listed folder.
type entry struct {
	name    string // relative to the listed folder, no trailing slash
	dir     bool
	size    int64
	modTime time.Time
}

// backend is the little a Store needs from a bucket. Keys use '/' and are
// built by layout.go from checked deployment names.
type backend interface {
	// get reads a whole object; errNotFound if absent.
	get(ctx context.Context, key string) ([]byte, error)
	// getPrefix reads at most n bytes from the start of an object.
	getPrefix(ctx context.Context, key string, n int) ([]byte, error)
	exists(ctx context.Context, key string) (bool, error)
	// create writes an object only if none exists under key (errExists
	// otherwise). durable asks for the bytes to be on stable storage when
	// create returns.
	create(ctx context.Context, key string, data []byte, durable bool) error
	// put writes or replaces an object.
	put(ctx context.Context, key string, data []byte) error
	// remove deletes an object; a missing object is not an error.
	remove(ctx context.Context, key string) error
	// removeAll deletes every object under dir (which ends in '/').
	removeAll(ctx context.Context, dir string) error
	// list returns the children of dir ("" or ending in '/'), sorted by
	// name; a missing folder has none.
	list(ctx context.Context, dir string) ([]entry, error)
	// probe checks, cheaply, that the bucket can be reached.
	probe(ctx context.Context) error
	// objectURL names an object in errors and in ReadInfo.
	objectURL(key string) string
	// sweep removes, best effort, what dead processes left under the
	// deployment's folder and no live process may still need: temporary
	// files and empty folders (file://). Buckets have neither.
	sweep(ctx context.Context, deployment string)
	// mutexDir is a local folder for host-local mutex files, "" for the
	// system temporary folder.
	mutexDir() string
	close() error
}
