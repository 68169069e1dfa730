package statestore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/engine/statestore"
	"github.com/nixferry/ferry/engine/statestore/storetest"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/blob/memblob"
	_ "gocloud.dev/blob/s3blob"
)

func mustOpen(t *testing.T, u string, opts ...statestore.Option) *statestore.Store {
	t.Helper()
	s, err := statestore.Open(t.Context(), u, opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", u, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// openFile opens two stores on a fresh folder that does not exist yet.
func openFile(t *testing.T) (a, b *statestore.Store) {
	u := "file://" + filepath.ToSlash(filepath.Join(t.TempDir(), ".ferry"))
	return mustOpen(t, u), mustOpen(t, u)
}

func openMem(t *testing.T) (a, b *statestore.Store) {
	bkt := memblob.OpenBucket(nil)
	t.Cleanup(func() { _ = bkt.Close() })
	// Two Stores on one bucket; neither is closed, the bucket is.
	return statestore.OpenBucket(bkt, "mem://"), statestore.OpenBucket(bkt, "mem://")
}

// fakeS3 is gofakes3 on an httptest server; every bucket URL is a new
// bucket, reached through s3blob's URL opener like a user's URL would be.
type fakeS3 struct {
	backend *s3mem.Backend
	url     string
	n       atomic.Int64
}

func newFakeS3(t *testing.T) *fakeS3 {
	be := s3mem.New()
	srv := httptest.NewServer(gofakes3.New(be, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	t.Cleanup(srv.Close)
	return &fakeS3{backend: be, url: srv.URL}
}

func s3URL(bucket, endpoint string) string {
	return fmt.Sprintf("s3://%s?endpoint=%s&region=us-east-1&use_path_style=true&anonymous=true", bucket, url.QueryEscape(endpoint))
}

func (f *fakeS3) bucketURL(t *testing.T) string {
	name := fmt.Sprintf("ferry-%d", f.n.Add(1))
	if err := f.backend.CreateBucket(name); err != nil {
		t.Fatal(err)
	}
	return s3URL(name, f.url)
}

// fakeGCS is fake-gcs-server without a listener; every open is a new
// bucket and every Store has its own client.
type fakeGCS struct {
	srv *fakestorage.Server
	n   atomic.Int64
}

func newFakeGCS(t *testing.T) *fakeGCS {
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return &fakeGCS{srv: srv}
}

func (f *fakeGCS) open(t *testing.T) (a, b *statestore.Store) {
	name := fmt.Sprintf("ferry-%d", f.n.Add(1))
	f.srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: name})
	stores := make([]*statestore.Store, 2)
	for i := range stores {
		bkt, err := gcsblob.OpenBucket(t.Context(), nil, name, &gcsblob.Options{Client: f.srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		s := statestore.OpenBucket(bkt, "gs://"+name)
		t.Cleanup(func() { _ = s.Close() })
		stores[i] = s
	}
	return stores[0], stores[1]
}

func TestConformanceFile(t *testing.T) { storetest.Run(t, openFile) }
func TestConformanceMem(t *testing.T)  { storetest.Run(t, openMem) }

func TestConformanceS3(t *testing.T) {
	f := newFakeS3(t)
	storetest.Run(t, func(t *testing.T) (a, b *statestore.Store) {
		u := f.bucketURL(t)
		return mustOpen(t, u), mustOpen(t, u)
	})
}

func TestConformanceGCS(t *testing.T) {
	storetest.Run(t, newFakeGCS(t).open)
}

// TestCreateIfAbsent races many creates of one object on every backend:
// the bucket itself (or the file:// link) must let exactly one through,
// with no help from the pre-checks that Write and Lock do.
func TestCreateIfAbsent(t *testing.T) {
	s3 := newFakeS3(t)
	gcs := newFakeGCS(t)
	for name, open := range map[string]storetest.Opener{
		"file": openFile,
		"mem":  openMem,
		"s3": func(t *testing.T) (a, b *statestore.Store) {
			u := s3.bucketURL(t)
			return mustOpen(t, u), mustOpen(t, u)
		},
		"gcs": gcs.open,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, b := open(t)
			for round := range 3 {
				key := fmt.Sprintf("d/state/%d.json", round)
				const n = 8
				errs := make([]error, n)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := range n {
					s := []*statestore.Store{a, b}[i%2]
					wg.Go(func() {
						<-start
						data := fmt.Appendf(nil, `{"writer": %d}`, i)
						if round == 2 {
							// The size of a large deployment's snapshot.
							data = append(data, make([]byte, 3<<20)...)
						}
						errs[i] = statestore.CreateObjectForTest(t.Context(), s, key, data)
					})
				}
				close(start)
				wg.Wait()
				won := 0
				for i, err := range errs {
					switch {
					case err == nil:
						won++
					case !errors.Is(err, statestore.ErrExistsForTest):
						t.Errorf("round %d writer %d: %v, want success or already exists", round, i, err)
					}
				}
				if won != 1 {
					t.Errorf("round %d: %d of %d racing creates succeeded, want exactly 1", round, won, n)
				}
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		url  string
		want []string
	}{
		{"ftp://host/x", []string{`scheme "ftp" is not supported`, "file", "gs", "mem", "s3"}},
		{"azblob://acct", []string{`scheme "azblob" is not supported`, "file, gs, mem, s3"}},
		{"/just/a/path", []string{"is not a URL", "file:///"}},
		{"file://relative/dir", []string{"file:///absolute/path"}},
		{"file:///tmp/x?create_dir=1", []string{"no query parameters"}},
	}
	for _, tt := range tests {
		_, err := statestore.Open(t.Context(), tt.url)
		if err == nil {
			t.Errorf("Open(%s) succeeded", tt.url)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Open(%s) = %q, want it to contain %q", tt.url, err, w)
			}
		}
	}
}

func TestOpenFileNotADirectory(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, "file://"+filepath.ToSlash(dir))
	l, err := s.Lock(t.Context(), "x", statestore.LockInfo{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(context.Background())
	_, err = statestore.Open(t.Context(), "file://"+filepath.ToSlash(filepath.Join(dir, "x", "lock.json")))
	if err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Open of a file: %v, want a not a directory error", err)
	}
}

func TestOpenMemURL(t *testing.T) {
	s := mustOpen(t, "mem://")
	l, err := s.Lock(t.Context(), "d", statestore.LockInfo{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), l, &state.State{Serial: 1, Resources: map[string]*state.Resource{}}); err != nil {
		t.Fatal(err)
	}
	if got, want := s.ObjectURL(statestore.SnapshotKey("d", 1)), "mem:///d/state/00000000000000000001.json"; got != want {
		t.Errorf("ObjectURL = %q, want %q", got, want)
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestOpenUnreachableS3: a closed endpoint fails at the dial, before the
// SDK and its retries are involved ("cannot connect to endpoint" says so;
// the time it took is not asserted, it depends on the machine's load).
func TestOpenUnreachableS3(t *testing.T) {
	u := s3URL("state", "http://"+closedPort(t))
	start := time.Now()
	_, err := statestore.Open(t.Context(), u)
	took := time.Since(start)
	if err == nil {
		t.Fatal("Open of an S3 endpoint on a closed port succeeded")
	}
	for _, w := range []string{u, "not reachable", "cannot connect to endpoint", "connection refused", "AWS credentials"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	t.Logf("failed after %v: %v", took, err)
}

func TestOpenMissingS3Bucket(t *testing.T) {
	f := newFakeS3(t)
	u := s3URL("no-such-bucket", f.url)
	_, err := statestore.Open(t.Context(), u)
	if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), u) {
		t.Errorf("Open of a missing bucket: %v", err)
	}
}

// TestOpenGCSURL goes through gcsblob's URL opener, pointed at a listening
// fake-gcs-server by STORAGE_EMULATOR_HOST.
func TestOpenGCSURL(t *testing.T) {
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "ferry"})
	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("STORAGE_EMULATOR_HOST", u.Host)
	s := mustOpen(t, "gs://ferry")
	l, err := s.Lock(t.Context(), "d", statestore.LockInfo{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(context.Background())
	if err := s.Write(t.Context(), l, &state.State{Serial: 1, Resources: map[string]*state.Resource{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := statestore.Open(t.Context(), "gs://missing"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Open of a missing GCS bucket: %v", err)
	}
}

// TestOpenBucketOwnsBucket checks that Close closes the bucket it was given.
func TestOpenBucketOwnsBucket(t *testing.T) {
	bkt, err := blob.OpenBucket(t.Context(), "mem://")
	if err != nil {
		t.Fatal(err)
	}
	s := statestore.OpenBucket(bkt, "mem://")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := bkt.Exists(t.Context(), "x"); err == nil {
		t.Errorf("the bucket still works after Store.Close")
	}
}

// TestOpenSilentEndpoint: a server that accepts connections and never
// answers must not hang Open past its context. The context ends once the
// server holds the SDK's connection (the second: the first is Open's own
// dial check), so the probe is known to be waiting for an answer.
func TestOpenSilentEndpoint(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for n := 1; ; n++ {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if n == 2 {
				cancel()
			}
			go func() { <-done; c.Close() }()
		}
	}()
	result := make(chan error, 1)
	go func() {
		_, err := statestore.Open(ctx, s3URL("state", "http://"+l.Addr().String()))
		result <- err
	}()
	// Only a guard against a hang: Open returns as soon as ctx ends.
	select {
	case err = <-result:
	case <-time.After(time.Minute):
		t.Fatal("Open of a silent endpoint still runs a minute after its context ended")
	}
	if err == nil || !strings.Contains(err.Error(), "not reachable") || !errors.Is(err, context.Canceled) {
		t.Errorf("Open of a silent endpoint: %v, want a not reachable error from the ended context", err)
	}
}
