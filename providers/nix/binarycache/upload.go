package binarycache

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
	"gocloud.dev/blob"
	"golang.org/x/sync/errgroup"
)

// CacheInfo is the nix-cache-info file Upload writes when a cache has none.
const CacheInfo = "StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n"

// Uploader uploads closures into one cache during one run. Paths are
// uploaded once: a path another Upload call is uploading is waited for,
// and a path uploaded by this Uploader is not asked about again. It is
// safe for concurrent use.
type Uploader struct {
	bkt  *blob.Bucket
	url  string
	key  SecretKey
	jobs int

	mu       sync.Mutex
	paths    map[string]*pathUpload // store path -> its upload in this run
	closures map[string][]string    // the closure of the paths of an Upload, by those paths
	infoDone bool
}

type pathUpload struct {
	done chan struct{}
	err  error
}

// NewUploader uploads into bkt (named url in errors), signing with key;
// jobs bounds the NARs compressed and sent at once (0: 4).
func NewUploader(bkt *blob.Bucket, url string, key SecretKey, jobs int) *Uploader {
	if jobs <= 0 {
		jobs = 4
	}
	return &Uploader{bkt: bkt, url: url, key: key, jobs: jobs, paths: map[string]*pathUpload{}, closures: map[string][]string{}}
}

// UploadStats says what an Upload did.
type UploadStats struct {
	Closure  int   // store paths in the closure
	Present  int   // of them, already in the cache (or uploaded earlier in this run)
	Uploaded int   // NARs and narinfos written by this call
	Bytes    int64 // compressed NAR bytes written
	NarBytes int64 // their uncompressed size
}

// Upload puts the closures of paths into the cache: it asks which narinfos
// the cache lacks (a HEAD each), then writes the missing NARs and, once
// every one of them is written, their narinfos.
func (u *Uploader) Upload(ctx context.Context, paths []string) (UploadStats, error) {
	var st UploadStats
	closure, err := u.closure(ctx, paths)
	if err != nil {
		return st, err
	}
	st.Closure = len(closure)

	// Claim the paths no other call of this run uploads; wait for those
	// another call does.
	var mine []string
	var others []*pathUpload
	u.mu.Lock()
	for _, p := range closure {
		if pu, ok := u.paths[p]; ok {
			others = append(others, pu)
			continue
		}
		pu := &pathUpload{done: make(chan struct{})}
		u.paths[p] = pu
		mine = append(mine, p)
	}
	u.mu.Unlock()
	finish := func(ps []string, err error) {
		u.mu.Lock()
		defer u.mu.Unlock()
		for _, p := range ps {
			pu := u.paths[p]
			pu.err = err
			if err != nil {
				delete(u.paths, p) // a later call tries again
			}
			close(pu.done)
		}
	}
	missing, err := u.lacking(ctx, mine)
	if err != nil {
		finish(mine, err)
		return st, err
	}
	finish(without(mine, missing), nil)
	st.Present = len(closure) - len(missing)
	err = u.write(ctx, missing, &st)
	finish(missing, err)
	if err != nil {
		return st, err
	}
	for _, pu := range others {
		select {
		case <-pu.done:
			if pu.err != nil {
				return st, pu.err
			}
		case <-ctx.Done():
			return st, ctx.Err()
		}
	}
	return st, nil
}

// closure returns the closure of paths, asking the local store once per
// run for the same paths (hosts that get the same system).
func (u *Uploader) closure(ctx context.Context, paths []string) ([]string, error) {
	key := strings.Join(paths, "\n")
	u.mu.Lock()
	c, ok := u.closures[key]
	u.mu.Unlock()
	if ok {
		return c, nil
	}
	c, err := lines(ctx, "nix-store", append([]string{"--query", "--requisites"}, paths...)...)
	if err != nil {
		return nil, fmt.Errorf("compute closure of %s: %w", strings.Join(paths, " "), err)
	}
	u.mu.Lock()
	u.closures[key] = c
	u.mu.Unlock()
	return c, nil
}

// lacking returns the paths whose narinfo the cache does not hold.
func (u *Uploader) lacking(ctx context.Context, paths []string) ([]string, error) {
	has := make([]bool, len(paths))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i, p := range paths {
		g.Go(func() error {
			ok, err := u.bkt.Exists(gctx, narinfoKey(p))
			if err != nil {
				return u.accessError("read", narinfoKey(p), err)
			}
			has[i] = ok
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []string
	for i, p := range paths {
		if !has[i] {
			out = append(out, p)
		}
	}
	return out, nil
}

// write uploads the NARs of paths, then their narinfos.
func (u *Uploader) write(ctx context.Context, paths []string, st *UploadStats) error {
	if len(paths) == 0 {
		return nil
	}
	if err := u.writeCacheInfo(ctx); err != nil {
		return err
	}
	infos, err := pathInfos(ctx, paths)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(u.jobs)
	for _, info := range infos {
		g.Go(func() error {
			n, err := u.writeNAR(gctx, info)
			mu.Lock()
			st.Bytes += n
			st.NarBytes += info.narSize
			mu.Unlock()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, info := range infos {
		g.Go(func() error {
			return u.put(gctx, narinfoKey(info.path), []byte(info.narinfo(u.key)), "text/x-nix-narinfo")
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	st.Uploaded = len(infos)
	return nil
}

func (u *Uploader) writeCacheInfo(ctx context.Context) error {
	u.mu.Lock()
	done := u.infoDone
	u.mu.Unlock()
	if done {
		return nil
	}
	ok, err := u.bkt.Exists(ctx, "nix-cache-info")
	if err != nil {
		return u.accessError("read", "nix-cache-info", err)
	}
	if !ok {
		if err := u.put(ctx, "nix-cache-info", []byte(CacheInfo), "text/x-nix-cache-info"); err != nil {
			return err
		}
	}
	u.mu.Lock()
	u.infoDone = true
	u.mu.Unlock()
	return nil
}

func (u *Uploader) put(ctx context.Context, key string, data []byte, contentType string) error {
	if err := u.bkt.WriteAll(ctx, key, data, &blob.WriterOptions{ContentType: contentType}); err != nil {
		return u.accessError("write", key, err)
	}
	return nil
}

// writeNAR streams nix-store --dump of info.path through zstd into the
// cache and records its file hash and size in info.
func (u *Uploader) writeNAR(ctx context.Context, info *pathInfo) (int64, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := u.bkt.NewWriter(wctx, info.narKey(), &blob.WriterOptions{ContentType: "application/x-nix-nar"})
	if err != nil {
		return 0, u.accessError("write", info.narKey(), err)
	}
	fileHash := sha256.New()
	counter := &countingWriter{w: io.MultiWriter(w, fileHash)}
	enc, err := zstd.NewWriter(counter, zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		cancel()
		_ = w.Close()
		return 0, err
	}
	var stderr bytes.Buffer
	dump := exec.CommandContext(ctx, "nix-store", "--dump", info.path)
	dump.Stdout, dump.Stderr = enc, &stderr
	if err := dump.Run(); err != nil {
		cancel() // abandons the object: a cancelled writer writes nothing
		_ = w.Close()
		return counter.n, fmt.Errorf("nix-store --dump %s: %w: %s", info.path, err, strings.TrimSpace(stderr.String()))
	}
	if err := enc.Close(); err != nil {
		cancel()
		_ = w.Close()
		return counter.n, u.accessError("write", info.narKey(), err)
	}
	if err := w.Close(); err != nil {
		return counter.n, u.accessError("write", info.narKey(), err)
	}
	info.fileHash, info.fileSize = "sha256:"+nixBase32(fileHash.Sum(nil)), counter.n
	return counter.n, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// AccessError is a cache ferry could not read or write: it names the
// object and the credentials ferry looked for.
type AccessError struct {
	URL, Op, Key string
	Err          error
}

func (e *AccessError) Error() string {
	return fmt.Sprintf("%s %s in the binary cache %s: %v (%s)", e.Op, e.Key, e.URL, e.Err, CredentialHint(e.URL))
}

func (e *AccessError) Unwrap() error { return e.Err }

func (u *Uploader) accessError(op, key string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &AccessError{URL: u.url, Op: op, Key: key, Err: err}
}

// CredentialHint says which credentials ferry looks for to write a cache
// at url.
func CredentialHint(url string) string {
	scheme, _, _ := strings.Cut(url, "://")
	switch scheme {
	case "s3":
		return "ferry looked for AWS credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, then the profile AWS_PROFILE (default \"default\") of ~/.aws/credentials and ~/.aws/config, then the instance role; they need s3:GetObject and s3:PutObject on the bucket"
	case "gs":
		return "ferry looked for Google credentials in GOOGLE_APPLICATION_CREDENTIALS, then gcloud's application default credentials (gcloud auth application-default login), then the instance's service account; they need storage.objects.get and storage.objects.create"
	case "file":
		return "ferry writes as the user it runs as: check that the folder exists and is writable"
	}
	return "ferry uses the credentials of the bucket's gocloud.dev driver"
}

// pathInfo is a store path's registration, from nix-store --dump-db.
type pathInfo struct {
	path     string
	narHash  string // sha256:NIXBASE32
	narSize  int64
	deriver  string
	refs     []string
	fileHash string
	fileSize int64
}

func (p *pathInfo) narKey() string {
	return "nar/" + strings.TrimPrefix(p.narHash, "sha256:") + ".nar.zst"
}

func (p *pathInfo) narinfo(key SecretKey) string {
	var b strings.Builder
	fmt.Fprintf(&b, "StorePath: %s\nURL: %s\nCompression: zstd\nFileHash: %s\nFileSize: %d\nNarHash: %s\nNarSize: %d\n",
		p.path, p.narKey(), p.fileHash, p.fileSize, p.narHash, p.narSize)
	base := make([]string, len(p.refs))
	for i, r := range p.refs {
		base[i] = path.Base(r)
	}
	fmt.Fprintf(&b, "References: %s\n", strings.Join(base, " "))
	if p.deriver != "" {
		fmt.Fprintf(&b, "Deriver: %s\n", path.Base(p.deriver))
	}
	fmt.Fprintf(&b, "Sig: %s\n", key.Sign(fingerprint(p.path, p.narHash, p.narSize, p.refs)))
	return b.String()
}

// narinfoKey is the object holding the narinfo of a store path.
func narinfoKey(storePath string) string {
	base := path.Base(storePath)
	if len(base) > 32 {
		base = base[:32]
	}
	return base + ".narinfo"
}

// pathInfos reads the registrations of paths in one nix-store --dump-db.
func pathInfos(ctx context.Context, paths []string) ([]*pathInfo, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "nix-store", append([]string{"--dump-db"}, paths...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("nix-store --dump-db: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return sc.Text(), true
	}
	var out []*pathInfo
	for {
		p, ok := next()
		if !ok {
			break
		}
		if p == "" {
			continue
		}
		hexHash, _ := next()
		size, _ := next()
		deriver, _ := next()
		count, _ := next()
		raw, err := hex.DecodeString(strings.TrimPrefix(hexHash, "sha256:"))
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("nix-store --dump-db: unexpected hash %q of %s", hexHash, p)
		}
		info := &pathInfo{path: p, narHash: "sha256:" + nixBase32(raw), deriver: deriver}
		if info.narSize, err = strconv.ParseInt(size, 10, 64); err != nil {
			return nil, fmt.Errorf("nix-store --dump-db: unexpected size %q of %s", size, p)
		}
		n, err := strconv.Atoi(count)
		if err != nil {
			return nil, fmt.Errorf("nix-store --dump-db: unexpected reference count %q of %s", count, p)
		}
		for range n {
			r, _ := next()
			info.refs = append(info.refs, r)
		}
		out = append(out, info)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("nix-store --dump-db: %w", err)
	}
	if len(out) != len(paths) {
		return nil, fmt.Errorf("nix-store --dump-db: %d registrations for %d store paths", len(out), len(paths))
	}
	return out, nil
}

func without(all, drop []string) []string {
	d := make(map[string]bool, len(drop))
	for _, p := range drop {
		d[p] = true
	}
	var out []string
	for _, p := range all {
		if !d[p] {
			out = append(out, p)
		}
	}
	return out
}

// lines runs a local command and returns its output's fields.
func lines(ctx context.Context, name string, args ...string) ([]string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	return strings.Fields(stdout.String()), nil
}
