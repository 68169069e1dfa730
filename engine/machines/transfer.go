package machines

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"time"

	"gocloud.dev/blob"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers/nix/binarycache"
	"github.com/nixferry/ferry/remote"
)

// Transfer strategies (machine(transfer = ...)): how a system's closure
// reaches its host. push streams what the host lacks over ferry's SSH
// connection; substitute first lets the host fetch from its own
// substituters; cache uploads the closure once per apply into a fleet
// binary cache (binarycache.Uploader) and has the host substitute from
// it, trusting the cache's public key for that command only. Whatever
// the host could not fetch is pushed, and the fallback is reported.

// planTransfer is the plan's form of m's transfer strategy. A fleet cache
// is checked here, once per cache (checked): its secret key must sign
// what its public key verifies, and its bucket must answer.
func planTransfer(ctx context.Context, m *spec.Machine, checked map[*spec.Transfer]error) (*plan.Transfer, error) {
	t := m.Transfer
	if t == nil || t.Mode == spec.TransferPush {
		return nil, nil
	}
	pt := &plan.Transfer{Mode: t.Mode, URL: t.URL, Substituter: t.Substituter, PublicKey: t.PublicKey}
	if t.Mode != spec.TransferCache {
		return pt, nil
	}
	err, ok := checked[t]
	if !ok {
		err = checkCache(ctx, t)
		checked[t] = err
	}
	return pt, err
}

// checkCache checks a fleet cache at plan time.
func checkCache(ctx context.Context, t *spec.Transfer) error {
	pk, err := binarycache.ParsePublicKey(t.PublicKey)
	if err != nil {
		return spec.Errorf(t.Pos, "nix_cache: public_key: "+err.Error())
	}
	if t.URL == "" {
		return nil
	}
	sk, err := binarycache.ParseSecretKey(t.SecretKey)
	if err != nil {
		return spec.Errorf(t.Pos, "nix_cache: secret_key: "+err.Error())
	}
	if err := binarycache.CheckPair(sk, pk); err != nil {
		return spec.Errorf(t.Pos, "nix_cache: secret_key does not match public_key: "+err.Error()+"; pass the two halves of one nix-store --generate-binary-cache-key")
	}
	bkt, err := openCache(ctx, t.URL)
	if err != nil {
		return spec.Errorf(t.Pos, "nix_cache: "+err.Error())
	}
	defer bkt.Close()
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := bkt.Exists(cctx, "nix-cache-info"); err != nil {
		return spec.Errorf(t.Pos, fmt.Sprintf("nix_cache: read nix-cache-info in the binary cache %s: %v (%s)", t.URL, err, binarycache.CredentialHint(t.URL)))
	}
	return nil
}

// openCache opens the bucket of a cache URL. An s3:// URL with an
// endpoint (an S3-compatible store) sends and checks the SDK's checksums
// only where the API requires them, as the state store does.
func openCache(ctx context.Context, rawURL string) (*blob.Bucket, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("url %q is not a bucket URL", rawURL)
	}
	// As statestore.s3Compatible, which this package may not import
	// (DESIGN.md's package table).
	if q := u.Query(); u.Scheme == "s3" && q.Get("endpoint") != "" {
		for _, k := range []string{"request_checksum_calculation", "response_checksum_validation"} {
			if q.Get(k) == "" {
				q.Set(k, "when_required")
			}
		}
		u.RawQuery = q.Encode()
	}
	bkt, err := blob.OpenBucket(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("open the binary cache %s: %w (%s)", rawURL, err, binarycache.CredentialHint(rawURL))
	}
	return bkt, nil
}

// Transfers are the signing keys of the fleet caches an apply uploads
// to, read from the configuration again (ResolveTransfers): the plan
// holds none. They never leave this package.
type Transfers struct {
	keys map[string]binarycache.SecretKey
} // by cache URL

// ResolveTransfers reads, for every machine apply deploys through a fleet
// cache ferry uploads to, the cache's secret key from the configuration,
// and refuses the plan (*plan.StaleError) when the configuration no
// longer has it or it does not match the planned public key.
func ResolveTransfers(p *plan.Plan, cfg *spec.Config) (Transfers, error) {
	out := Transfers{keys: map[string]binarycache.SecretKey{}}
	for _, pm := range p.Machines {
		t := pm.Transfer
		if pm.Action != plan.Deploy || t == nil || t.Mode != spec.TransferCache || t.URL == "" {
			continue
		}
		if _, ok := out.keys[t.URL]; ok {
			continue
		}
		if cfg == nil {
			return Transfers{}, fmt.Errorf("%s uploads into the fleet cache %s, but apply was given no configuration to read its secret key from (ApplyOptions.Config)", pm.Addr, t.URL)
		}
		m := cfg.MachineByName(pm.Name)
		if m == nil || m.Transfer == nil || m.Transfer.URL != t.URL || m.Transfer.PublicKey != t.PublicKey {
			return Transfers{}, &plan.StaleError{What: fmt.Sprintf("the fleet cache %s of %s is no longer in the configuration", t.URL, pm.Addr)}
		}
		sk, err := binarycache.ParseSecretKey(m.Transfer.SecretKey)
		if err == nil {
			pk, perr := binarycache.ParsePublicKey(t.PublicKey)
			if err = perr; err == nil {
				err = binarycache.CheckPair(sk, pk)
			}
		}
		if err != nil {
			return Transfers{}, &plan.StaleError{What: fmt.Sprintf("the secret key of the fleet cache %s changed since the plan: %v", t.URL, err)}
		}
		out.keys[t.URL] = sk
	}
	return out, nil
}

// caches are the fleet caches of one apply, opened when first used.
type caches struct {
	keys Transfers
	mu   sync.Mutex
	open map[string]*cacheUpload
}

type cacheUpload struct {
	once sync.Once
	bkt  *blob.Bucket
	up   *binarycache.Uploader
	err  error
}

func (c *caches) uploader(ctx context.Context, url string) (*binarycache.Uploader, error) {
	c.mu.Lock()
	if c.open == nil {
		c.open = map[string]*cacheUpload{}
	}
	cu := c.open[url]
	if cu == nil {
		cu = &cacheUpload{}
		c.open[url] = cu
	}
	c.mu.Unlock()
	cu.once.Do(func() {
		key, ok := c.keys.keys[url]
		if !ok {
			cu.err = fmt.Errorf("no secret key for the fleet cache %s (ApplyRequest.Transfers)", url)
			return
		}
		if cu.bkt, cu.err = openCache(ctx, url); cu.err == nil {
			cu.up = binarycache.NewUploader(cu.bkt, url, key, 0)
		}
	})
	return cu.up, cu.err
}

// close closes the caches' buckets.
func (c *caches) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cu := range c.open {
		if cu.bkt != nil {
			_ = cu.bkt.Close()
		}
	}
}

// transfer brings m's system closure to the host by m's strategy.
func (r *Run) transfer(ctx context.Context, conn *remote.Conn, m *plan.Machine, progress func(string, ...any)) error {
	return r.transferTo(ctx, conn, m, "", progress)
}

// transferTo is transfer into store on the host ("" for its own; an
// installer's "local?root=/mnt" for the system it installs).
func (r *Run) transferTo(ctx context.Context, conn *remote.Conn, m *plan.Machine, store string, progress func(string, ...any)) error {
	t := m.Transfer
	if t == nil || t.Mode == spec.TransferPush {
		return r.copyClosureTo(ctx, conn, m, m.Path, "", store, progress)
	}
	// What the host lacks is asked while the closure uploads.
	type prepResult struct {
		c   *remote.PreparedCopy
		err error
	}
	prep := make(chan prepResult, 1)
	go func() {
		c, err := r.closures.PrepareCopyToStore(ctx, conn, []string{m.Path}, store)
		prep <- prepResult{c, err}
	}()
	opts := remote.SubstituteOptions{}
	from := "its substituters"
	if t.Mode == spec.TransferCache {
		if err := r.upload(ctx, m); err != nil {
			<-prep
			return err
		}
		opts = remote.SubstituteOptions{Substituter: t.Substituter, TrustedKey: t.PublicKey}
		from = t.Substituter
	}
	pr := <-prep
	if pr.err != nil {
		return pr.err
	}
	prepared := pr.c
	start := time.Now()
	st, err := remote.Substitute(ctx, prepared, opts)
	switch {
	case err != nil && st.Missing == 0:
		return err
	case err != nil:
		reason := remote.SubstituteReason(err)
		r.sink.Progress(m.Addr, time.Since(start), fmt.Sprintf("substituted %d of %d missing paths from %s", st.Fetched, st.Missing, from))
		r.fellBack(m.Addr, fmt.Sprintf("fetched %d of %d missing paths from %s: %s", st.Fetched, st.Missing, from, reason))
		r.sink.Warning(m.Addr, fmt.Sprintf("fell back to push: the host fetched %d of %d missing paths from %s (%s)", st.Fetched, st.Missing, from, reason))
	case st.Missing > 0:
		r.sink.Progress(m.Addr, time.Since(start), fmt.Sprintf("fetched %s from %s", spec.Count(st.Fetched, "path"), from))
	}
	return r.stream(ctx, m, prepared, 0, "", progress)
}

// upload puts m's closure into its fleet cache, once per apply.
func (r *Run) upload(ctx context.Context, m *plan.Machine) error {
	t := m.Transfer
	if t.URL == "" {
		return nil // someone else fills the cache
	}
	up, err := r.caches.uploader(ctx, t.URL)
	if err != nil {
		return err
	}
	start := time.Now()
	st, err := up.Upload(ctx, []string{m.Path})
	if err != nil {
		return fmt.Errorf("upload to the fleet cache: %w", err)
	}
	r.sink.Progress(m.Addr, time.Since(start), fmt.Sprintf("cache %s: uploaded %d of %s, %s (%d present)",
		t.URL, st.Uploaded, spec.Count(st.Closure, "path"), mib(st.Bytes), st.Present))
	return nil
}

// fellBack notes a host that fell back to push, for the summary.
func (r *Run) fellBack(addr, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fallbacks == nil {
		r.fallbacks = map[string]string{}
	}
	r.fallbacks[addr] = why
}

// FellBack returns the machines whose closures were pushed because they
// could not substitute them, with why.
func (r *Run) FellBack() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]string, len(r.fallbacks))
	for a, w := range r.fallbacks {
		out[a] = w
	}
	return out
}

// Close releases what the run holds open (the fleet caches' buckets),
// once every machine node returned.
func (r *Run) Close() { r.caches.close() }
