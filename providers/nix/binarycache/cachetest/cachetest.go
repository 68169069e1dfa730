package cachetest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Request is one request a cache answered.
type Request struct {
	Method string
	Path   string // URL path, e.g. /nar/1abc...nar.zst or /fleet/abc.narinfo
	Status int
}

// Server is a working cache with a request log.
type Server struct {
	// URL is where Nix reads the cache (a substituter).
	URL string
	// BucketURL is where ferry uploads (s3:// for NewS3, file:// for
	// NewFolder).
	BucketURL string

	mu  sync.Mutex
	log []Request
}

// Requests returns the requests answered so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// Count counts the requests of method whose path ends with suffix and
// that were answered with 200.
func (s *Server) Count(method, suffix string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Method == method && strings.HasSuffix(r.Path, suffix) && r.Status == http.StatusOK {
			n++
		}
	}
	return n
}

// Uploads counts the writes of objects whose key ends with suffix that
// were answered with 200: PUTs (S3, HTTP caches) and POSTs (GCS's upload
// API, logged with the object name of its query as the last element of
// the path).
func (s *Server) Uploads(suffix string) int {
	return s.Count(http.MethodPut, suffix) + s.Count(http.MethodPost, suffix)
}

// Reset forgets the requests logged so far.
func (s *Server) Reset() {
	s.mu.Lock()
	s.log = nil
	s.mu.Unlock()
}

func (s *Server) logged(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		s.mu.Lock()
		p := r.URL.Path
		if name := r.URL.Query().Get("name"); r.Method == http.MethodPost && name != "" {
			p += "/" + name // GCS's upload API names the object in its query
		}
		s.log = append(s.log, Request{Method: r.Method, Path: p, Status: rec.status})
		s.mu.Unlock()
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// NewFolder serves dir as an HTTP binary cache on 127.0.0.1: GET and
// HEAD read files, PUT writes them (through a temporary file, renamed into
// place). BucketURL is file://dir.
func NewFolder(t testing.TB, dir string) *Server {
	t.Helper()
	s := &Server{BucketURL: "file://" + filepath.ToSlash(dir)}
	srv := httptest.NewServer(s.logged(folderHandler(dir)))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

func folderHandler(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := path.Clean("/" + r.URL.Path)
		file := filepath.Join(dir, filepath.FromSlash(name))
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			f, err := os.Open(file)
			if errors.Is(err, fs.ErrNotExist) {
				http.NotFound(w, r)
				return
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil || st.IsDir() {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Length", fmt.Sprint(st.Size()))
			if r.Method == http.MethodHead {
				return
			}
			_, _ = io.Copy(w, f)
		case http.MethodPut:
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			tmp, err := os.CreateTemp(filepath.Dir(file), ".put-*")
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			_, err = io.Copy(tmp, r.Body)
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = os.Rename(tmp.Name(), file)
			}
			if err != nil {
				_ = os.Remove(tmp.Name())
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
		default:
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
}

// NewS3 runs gofakes3 on 127.0.0.1 with one bucket: BucketURL is its
// s3:// URL (anonymous, path style, the server as endpoint), URL the
// bucket read over plain HTTP, as hosts read a public bucket.
func NewS3(t testing.TB, bucket string) *Server {
	t.Helper()
	return NewS3On(t, bucket, nil)
}

// NewS3On is NewS3 serving on l (e.g. a listener in another network
// namespace); nil listens on 127.0.0.1.
func NewS3On(t testing.TB, bucket string, l net.Listener) *Server {
	t.Helper()
	return newS3(t, bucket, l, false)
}

func newS3(t testing.TB, bucket string, l net.Listener, readOnly bool) *Server {
	t.Helper()
	be := s3mem.New()
	if err := be.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	s := &Server{}
	h := gofakes3.New(be, gofakes3.WithLogger(gofakes3.DiscardLog())).Server()
	if readOnly {
		h = readOnlyS3(h)
	}
	srv := httptest.NewUnstartedServer(s.logged(h))
	if l != nil {
		_ = srv.Listener.Close()
		srv.Listener = l
	}
	srv.Start()
	t.Cleanup(srv.Close)
	s.URL = srv.URL + "/" + bucket
	s.BucketURL = fmt.Sprintf("s3://%s?endpoint=%s&region=us-east-1&use_path_style=true&anonymous=true", bucket, url.QueryEscape(srv.URL))
	return s
}

// NewGCS runs fake-gcs-server on 127.0.0.1 with one bucket: BucketURL is
// its gs:// URL, which gocloud.dev's gcsblob opens on the emulator because
// NewGCS sets STORAGE_EMULATOR_HOST for the test (so tests using it
// cannot run in parallel), and URL the bucket read over plain HTTP, as
// hosts read a public bucket (https://storage.googleapis.com/BUCKET).
func NewGCS(t testing.TB, bucket string) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	// The emulator answers the public download URL (/BUCKET/OBJECT) on
	// its public host only: the address the hosts read it at.
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true, PublicHost: addr})
	if err != nil {
		_ = l.Close()
		t.Fatal(err)
	}
	t.Cleanup(fake.Stop)
	fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	s := &Server{}
	srv := httptest.NewUnstartedServer(s.logged(fake.HTTPHandler()))
	_ = srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	t.Setenv("STORAGE_EMULATOR_HOST", addr)
	s.URL = srv.URL + "/" + bucket
	s.BucketURL = "gs://" + bucket
	return s
}

// NewS3ReadOnly is NewS3 with a bucket whose credentials may read, not
// write: every PUT, POST and DELETE is answered 403 AccessDenied, as S3
// answers a role without s3:PutObject.
func NewS3ReadOnly(t testing.TB, bucket string) *Server {
	t.Helper()
	return newS3(t, bucket, nil, true)
}

// readOnlyS3 answers writes 403 AccessDenied and passes reads to h.
func readOnlyS3(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
	})
}

// Broken kinds of cache.
const (
	Refused = "refused" // nothing listens on the port
	Failing = "500"     // every request is answered 500
	Silent  = "silent"  // connections are accepted and never answered
)

// NewBroken returns the URL of a broken cache of the given kind.
func NewBroken(t testing.TB, kind string) string {
	t.Helper()
	switch kind {
	case Refused:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		return "http://" + addr
	case Failing:
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "cache is broken", http.StatusInternalServerError)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	case Silent:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var conns []net.Conn
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				conns = append(conns, c) // held open, never read or answered
				mu.Unlock()
			}
		}()
		t.Cleanup(func() {
			_ = l.Close()
			mu.Lock()
			defer mu.Unlock()
			for _, c := range conns {
				_ = c.Close()
			}
		})
		return "http://" + l.Addr().String()
	}
	t.Fatalf("cachetest: unknown broken cache kind %q", kind)
	return ""
}
