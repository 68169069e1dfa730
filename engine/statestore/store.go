package statestore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nixferry/ferry/engine/statestore/sealed"
	"gocloud.dev/blob"
)

// Store is the state of every deployment in one bucket. It is safe for
// concurrent use; Close it when done.
type Store struct {
	b       backend
	url     string
	keys    *sealed.Keys // nil: nothing sealed, nothing to open with
	written atomic.Int64
}

// probeTimeout bounds the reachability check in Open, so that a wrong
// endpoint fails in seconds rather than after the SDK's retries.
const probeTimeout = 10 * time.Second

// dialTimeout bounds the connection to an explicit endpoint.
const dialTimeout = 3 * time.Second

// Open opens the state store at rawURL: file:///abs/dir, or any scheme
// registered on gocloud's default blob URL mux (mem://, s3://bucket,
// gs://bucket, ...). It checks, cheaply and with a short timeout, that the
// bucket can be reached. Options (WithSecrets) apply to the Store; the
// Store owns what they hand it, also when Open fails.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Store, error) {
	fail := func(err error) (*Store, error) {
		_ = newStore(nil, rawURL, opts...).keys.Close()
		return nil, err
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return fail(fmt.Errorf("state URL %q is not a URL; use e.g. file:///path/to/.ferry or s3://bucket (supported schemes: %s)", rawURL, supportedSchemes()))
	}
	var s *Store
	switch {
	case u.Scheme == "file":
		root, err := fileRoot(u)
		if err != nil {
			return fail(err)
		}
		s = newStore(newDirBackend(root), rawURL, opts...)
	case blob.DefaultURLMux().ValidBucketScheme(u.Scheme):
		b, err := blob.OpenBucket(ctx, s3Compatible(u))
		if err != nil {
			return fail(fmt.Errorf("open state bucket %s: %w; check the URL and %s", rawURL, err, credentialHint(u.Scheme)))
		}
		s = OpenBucket(b, rawURL, opts...)
	default:
		return fail(fmt.Errorf("state URL %s: scheme %q is not supported; supported schemes: %s", rawURL, u.Scheme, supportedSchemes()))
	}
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	err = dialEndpoint(pctx, u)
	if err == nil {
		err = s.b.probe(pctx)
	}
	if err != nil {
		_ = s.Close()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("no answer within %v", probeTimeout)
		}
		return nil, fmt.Errorf("state bucket %s is not reachable: %w; check the bucket name, region or endpoint, the network and %s", rawURL, err, credentialHint(u.Scheme))
	}
	return s, nil
}

// s3Compatible returns the bucket URL to open: for an s3:// URL with an
// endpoint (an S3-compatible store: MinIO, Ceph, an emulator) the SDK's
// checksums are only sent and checked where the API requires them, unless
// the URL says otherwise: many such stores reject the SDK's default
// checksum headers or answer range reads with the whole object's checksum.
// Fleet caches open their buckets the same way (engine/machines'
// openCache).
func s3Compatible(u *url.URL) string {
	q := u.Query()
	if u.Scheme != "s3" || q.Get("endpoint") == "" {
		return u.String()
	}
	for _, k := range []string{"request_checksum_calculation", "response_checksum_validation"} {
		if q.Get(k) == "" {
			q.Set(k, "when_required")
		}
	}
	c := *u
	c.RawQuery = q.Encode()
	return c.String()
}

// dialEndpoint connects to the endpoint= of a URL (S3-compatible servers
// such as MinIO), if any: a closed port or unknown host then fails at once
// instead of after the SDK's retries and backoff.
func dialEndpoint(ctx context.Context, u *url.URL) error {
	ep := u.Query().Get("endpoint")
	if ep == "" {
		return nil
	}
	if !strings.Contains(ep, "://") {
		ep = "https://" + ep
	}
	eu, err := url.Parse(ep)
	if err != nil || eu.Host == "" {
		return fmt.Errorf("endpoint %q is not a URL", u.Query().Get("endpoint"))
	}
	host := eu.Host
	if eu.Port() == "" {
		port := "443"
		if eu.Scheme == "http" {
			port = "80"
		}
		host = net.JoinHostPort(eu.Hostname(), port)
	}
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	c, err := d.DialContext(dctx, "tcp", host)
	if err != nil {
		return fmt.Errorf("cannot connect to endpoint %s: %w", host, err)
	}
	return c.Close()
}

// OpenBucket returns a Store on an already open bucket, which Close closes.
// rawURL names the bucket in messages.
func OpenBucket(b *blob.Bucket, rawURL string, opts ...Option) *Store {
	return newStore(newBlobBackend(b, rawURL), rawURL, opts...)
}

func newStore(b backend, rawURL string, opts ...Option) *Store {
	s := &Store{b: b, url: rawURL}
	for _, o := range opts {
		o(s)
	}
	return s
}

// fileRoot maps file:///abs/dir to /abs/dir.
func fileRoot(u *url.URL) (string, error) {
	if u.Host != "" && u.Host != "localhost" {
		return "", fmt.Errorf("state URL %s: a file URL names a local folder; use file:///absolute/path (three slashes)", u.Redacted())
	}
	if u.RawQuery != "" {
		return "", fmt.Errorf("state URL %s: file URLs take no query parameters", u.Redacted())
	}
	p := filepath.FromSlash(u.Path)
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("state URL %s: the path must be absolute, e.g. file:///home/me/project/.ferry", u.Redacted())
	}
	return filepath.Clean(p), nil
}

func supportedSchemes() string {
	schemes := append([]string{"file"}, blob.DefaultURLMux().BucketSchemes()...)
	slices.Sort(schemes)
	return strings.Join(slices.Compact(schemes), ", ")
}

func credentialHint(scheme string) string {
	switch scheme {
	case "s3":
		return "AWS credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID, AWS_REGION)"
	case "gs":
		return "Google credentials (GOOGLE_APPLICATION_CREDENTIALS or `gcloud auth application-default login`)"
	case "azblob":
		return "Azure credentials (AZURE_STORAGE_ACCOUNT and a key, SAS token or `az login`)"
	}
	return "the credentials"
}

// Close releases the bucket and the keys.
func (s *Store) Close() error { return errors.Join(s.b.close(), s.keys.Close()) }

// URL is the URL the Store was opened with.
func (s *Store) URL() string { return s.url }

// BytesWritten is the number of bytes this Store has written: snapshots,
// journal segments, locks, hints and plan keys.
func (s *Store) BytesWritten() int64 { return s.written.Load() }

// ObjectURL names the object under key, as error messages do.
func (s *Store) ObjectURL(key string) string { return s.b.objectURL(key) }

// Deployments returns the names of the deployments that have anything in
// the store (state, a journal or a lock), sorted.
func (s *Store) Deployments(ctx context.Context) ([]string, error) {
	es, err := s.b.list(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("list deployments in %s: %w", s.url, err)
	}
	var out []string
	for _, e := range es {
		if e.dir && checkDeployment(e.name) == nil {
			out = append(out, e.name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// create writes a new object and counts its bytes.
func (s *Store) create(ctx context.Context, key string, data []byte, durable bool) error {
	if err := s.b.create(ctx, key, data, durable); err != nil {
		return err
	}
	s.written.Add(int64(len(data)))
	return nil
}

func (s *Store) put(ctx context.Context, key string, data []byte) error {
	if err := s.b.put(ctx, key, data); err != nil {
		return err
	}
	s.written.Add(int64(len(data)))
	return nil
}

// PutObjectForTesting writes data under key verbatim, replacing any object.
// It exists so that conformance tests can plant damaged objects; ferry
// never calls it.
func (s *Store) PutObjectForTesting(ctx context.Context, key string, data []byte) error {
	return s.b.put(ctx, key, data)
}

// ObjectForTesting reads the object under key as stored (sealed objects
// stay sealed). It exists so that conformance tests can check and damage
// what is stored; ferry never calls it.
func (s *Store) ObjectForTesting(ctx context.Context, key string) ([]byte, error) {
	return s.b.get(ctx, key)
}
