package statestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
	"golang.org/x/sync/errgroup"
)

// blobBackend stores objects in a gocloud.dev bucket.
type blobBackend struct {
	b    *blob.Bucket
	base string // URL prefix for objectURL, without trailing '/'
}

// deleteConcurrency bounds parallel deletes of stale journal segments.
const deleteConcurrency = 16

func newBlobBackend(b *blob.Bucket, rawURL string) *blobBackend {
	return &blobBackend{b: b, base: bucketBase(rawURL)}
}

// bucketBase turns a bucket URL into the prefix of its object URLs:
// scheme://bucket[/prefix], without query parameters.
func bucketBase(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return strings.TrimSuffix(raw, "/")
	}
	base := u.Scheme + "://" + u.Host + strings.TrimSuffix(u.Path, "/")
	if p := strings.Trim(u.Query().Get("prefix"), "/"); p != "" {
		base += "/" + p
	}
	return base
}

func blobErr(err error) error {
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return errNotFound
	case gcerrors.FailedPrecondition:
		return errExists
	}
	return err
}

func (bb *blobBackend) get(ctx context.Context, key string) ([]byte, error) {
	r, err := bb.b.NewReader(ctx, key, nil)
	if err != nil {
		return nil, blobErr(err)
	}
	defer r.Close()
	// One allocation of the announced size; state files are megabytes.
	buf := make([]byte, r.Size())
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	var extra [1]byte
	if n, _ := r.Read(extra[:]); n > 0 {
		rest, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		buf = append(append(buf, extra[0]), rest...)
	}
	return buf, nil
}

func (bb *blobBackend) getPrefix(ctx context.Context, key string, n int) ([]byte, error) {
	r, err := bb.b.NewRangeReader(ctx, key, 0, int64(n), nil)
	if err != nil {
		err = blobErr(err)
		// S3 and GCS refuse any range of an empty object (416).
		if !errors.Is(err, errNotFound) {
			if a, aerr := bb.b.Attributes(ctx, key); aerr == nil && a.Size == 0 {
				return nil, nil
			}
		}
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func (bb *blobBackend) exists(ctx context.Context, key string) (bool, error) {
	return bb.b.Exists(ctx, key)
}

func (bb *blobBackend) create(ctx context.Context, key string, data []byte, _ bool) error {
	// A remote bucket acknowledges a write once it is durable.
	return blobErr(bb.b.WriteAll(ctx, key, data, &blob.WriterOptions{
		ContentType: "application/json",
		IfNotExist:  true,
	}))
}

func (bb *blobBackend) put(ctx context.Context, key string, data []byte) error {
	return bb.b.WriteAll(ctx, key, data, &blob.WriterOptions{ContentType: "application/json"})
}

func (bb *blobBackend) remove(ctx context.Context, key string) error {
	if err := bb.b.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return err
	}
	return nil
}

func (bb *blobBackend) removeAll(ctx context.Context, dir string) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(deleteConcurrency)
	it := bb.b.List(&blob.ListOptions{Prefix: dir})
	for {
		obj, err := it.Next(gctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			_ = g.Wait()
			return err
		}
		g.Go(func() error { return bb.remove(gctx, obj.Key) })
	}
	return g.Wait()
}

func (bb *blobBackend) list(ctx context.Context, dir string) ([]entry, error) {
	var out []entry
	it := bb.b.List(&blob.ListOptions{Prefix: dir, Delimiter: "/"})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(strings.TrimPrefix(obj.Key, dir), "/")
		if name == "" {
			continue
		}
		out = append(out, entry{name: name, dir: obj.IsDir, size: obj.Size, modTime: obj.ModTime})
	}
}

func (bb *blobBackend) probe(ctx context.Context) error {
	ok, err := bb.b.IsAccessible(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("the bucket does not exist")
	}
	return nil
}

// sweep has nothing to do: a bucket write is atomic (no temporary
// objects) and a bucket has no empty folders.
func (bb *blobBackend) sweep(context.Context, string) {}

func (bb *blobBackend) objectURL(key string) string { return bb.base + "/" + key }
func (bb *blobBackend) mutexDir() string            { return "" }
func (bb *blobBackend) close() error                { return bb.b.Close() }
