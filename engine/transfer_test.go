package engine_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/s3blob"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/providers/nix/binarycache"
	"github.com/nixferry/ferry/providers/nix/binarycache/cachetest"
)

// End-to-end tests of transfer strategies (machine(transfer = ...)): a
// fleet cache on gofakes3 that ferry uploads to over S3 and the hosts read
// over plain HTTP, and broken caches that make a host fall back to push.

// cacheKeys generates a binary cache key pair with Nix.
func cacheKeys(t testing.TB) (secret, public string) {
	t.Helper()
	dir := t.TempDir()
	sk, pk := filepath.Join(dir, "sk"), filepath.Join(dir, "pk")
	if out, err := exec.Command("nix-store", "--generate-binary-cache-key", "fleet-1", sk, pk).CombinedOutput(); err != nil {
		t.Fatalf("nix-store --generate-binary-cache-key: %v: %s", err, out)
	}
	s, _ := os.ReadFile(sk)
	p, _ := os.ReadFile(pk)
	return strings.TrimSpace(string(s)), strings.TrimSpace(string(p))
}

// newCacheEnv is the three machines of testdata/machines/cache.star with a
// fleet cache on gofakes3.
func newCacheEnv(t *testing.T) (*machineEnv, *cachetest.Server, string) {
	return newCacheEnvOn(t, cachetest.NewS3)
}

// newCacheEnvOn is newCacheEnv with the fleet cache that newCache starts.
func newCacheEnvOn(t *testing.T, newCache func(testing.TB, string) *cachetest.Server) (*machineEnv, *cachetest.Server, string) {
	m := newMachineEnv(t, "gitServer", "proxy", "storage")
	m.file = "cache.star"
	srv := newCache(t, "fleet")
	secret, public := cacheKeys(t)
	m.vars["cache_url"] = srv.BucketURL
	m.vars["cache_substituter"] = srv.URL
	m.vars["cache_public_key"] = public
	m.vars["cache_secret_key"] = secret
	return m, srv, secret
}

// narKey is the cache object of a store path's NAR, as ferry names it.
func narKey(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("nix-store", "--query", "--hash", path).Output()
	if err != nil {
		t.Fatalf("nix-store --query --hash %s: %v", path, err)
	}
	return "/nar/" + strings.TrimPrefix(strings.TrimSpace(string(out)), "sha256:") + ".nar.zst"
}

// pushed returns, per machine, the "copied N of M paths" messages.
func pushed(evs []engine.Event) map[string]string {
	out := map[string]string{}
	for _, ev := range evs {
		if ev.Kind == engine.EventProgress && strings.HasPrefix(ev.Message, "copied ") {
			out[ev.Addr] = ev.Message
		}
	}
	return out
}

// TestFleetCache deploys three machines through a fleet cache that ferry
// uploads to over S3 (gofakes3) or GCS (fake-gcs-server) and the hosts
// read over HTTP: each host fetches its system from the cache, nothing is
// pushed, the secret key is nowhere, and a no-change apply uploads
// nothing.
func TestFleetCache(t *testing.T) {
	for name, newCache := range map[string]func(testing.TB, string) *cachetest.Server{"s3": cachetest.NewS3, "gs": cachetest.NewGCS} {
		t.Run(name, func(t *testing.T) { testFleetCache(t, newCache) })
	}
}

func testFleetCache(t *testing.T, newCache func(testing.TB, string) *cachetest.Server) {
	m, srv, secret := newCacheEnvOn(t, newCache)
	p := m.plan(engine.PlanOptions{})
	for _, pm := range p.Machines {
		want := &plan.Transfer{Mode: "cache", URL: srv.BucketURL, Substituter: srv.URL, PublicKey: m.vars["cache_public_key"]}
		if pm.Transfer == nil || *pm.Transfer != *want {
			t.Fatalf("%s: transfer %+v, want %+v", pm.Addr, pm.Transfer, want)
		}
	}
	m.takeEvents()
	res := m.applyOK(p)
	evs := m.takeEvents()
	if len(res.FellBack) > 0 {
		t.Errorf("fell back: %v", res.FellBack)
	}
	// Every host fetched its system's NAR from the cache, and nothing was
	// pushed over SSH.
	for _, pm := range p.Machines {
		key := narKey(t, pm.Path)
		if n := srv.Count("GET", key); n != 1 {
			t.Errorf("%s: the cache served its system's NAR %d times, want once; requests: %v", pm.Addr, n, srv.Requests())
		}
		if got := m.current(pm.Name); got != pm.Path {
			t.Errorf("%s runs %s, want %s", pm.Addr, got, pm.Path)
		}
	}
	for addr, msg := range pushed(evs) {
		if !strings.HasPrefix(msg, "copied 0 of ") {
			t.Errorf("%s: %s, want nothing pushed", addr, msg)
		}
	}
	if srv.Uploads(".narinfo") == 0 {
		t.Errorf("no narinfo was uploaded; requests: %v", srv.Requests())
	}
	// The secret key is nowhere: not in the plan file, the state, the events.
	secretPart := strings.SplitN(secret, ":", 2)[1]
	checkAbsent := func(what, s string) {
		t.Helper()
		if strings.Contains(s, secretPart) {
			t.Errorf("the cache's secret key is in %s", what)
		}
	}
	planFile, _ := os.ReadFile(filepath.Join(m.dir, "plan.json"))
	checkAbsent("the plan file", string(planFile))
	_ = filepath.WalkDir(m.stateDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			checkAbsent(path, string(b))
		}
		return nil
	})
	for _, ev := range evs {
		checkAbsent("an event", ev.Message)
	}

	// A no-change re-apply uploads nothing.
	srv.Reset()
	p = m.plan(engine.PlanOptions{})
	if n := p.Count(); n.Deploy != 0 {
		t.Fatalf("no-change plan deploys %d machines", n.Deploy)
	}
	m.applyOK(p)
	if n := srv.Uploads(""); n != 0 {
		t.Errorf("a no-change apply uploaded %d objects", n)
	}
}

// TestFleetCacheBrokenFallsBack: a host whose cache refuses connections,
// answers 500 or never answers gets its system pushed, within 4 s of
// trying the cache, and the apply names it.
func TestFleetCacheBrokenFallsBack(t *testing.T) {
	for _, kind := range []string{cachetest.Refused, cachetest.Failing, cachetest.Silent} {
		t.Run(kind, func(t *testing.T) {
			m, _, _ := newCacheEnv(t)
			m.vars["storage_substituter"] = cachetest.NewBroken(t, kind)
			p := m.plan(engine.PlanOptions{})
			m.takeEvents()
			res := m.applyOK(p)
			evs := m.takeEvents()
			if len(res.FellBack) != 1 || res.FellBack["machine.storage"] == "" {
				t.Fatalf("fell back: %v, want machine.storage only", res.FellBack)
			}
			t.Logf("machine.storage fell back: %s", res.FellBack["machine.storage"])
			if got, want := m.current("storage"), p.Machine("machine.storage").Path; got != want {
				t.Errorf("storage runs %s, want %s", got, want)
			}
			var tried time.Duration
			for _, ev := range evs {
				if ev.Addr == "machine.storage" && ev.Kind == engine.EventProgress && strings.HasPrefix(ev.Message, "substituted ") {
					tried = ev.Duration
				}
			}
			t.Logf("the broken cache cost %v before the fallback", tried)
			if tried == 0 || tried > 4*time.Second {
				t.Errorf("the broken cache cost %v before the fallback, want at most 4s", tried)
			}
			if msg := pushed(evs)["machine.storage"]; strings.HasPrefix(msg, "copied 0 of ") || msg == "" {
				t.Errorf("storage: %q, want its closure pushed", msg)
			}
		})
	}
}

// TestFleetCacheKeyMismatch: a secret key that is not the public key's
// fails the plan at nix_cache's position.
func TestFleetCacheKeyMismatch(t *testing.T) {
	m, _, _ := newCacheEnv(t)
	_, otherPublic := cacheKeys(t)
	m.vars["cache_public_key"] = otherPublic
	_, err := m.tryPlan(engine.PlanOptions{})
	if err == nil || !strings.Contains(err.Error(), "cache.star:10:12: nix_cache: secret_key does not match public_key") {
		t.Fatalf("plan: %v, want a key mismatch at cache.star:10:12", err)
	}
	if strings.Contains(err.Error(), strings.SplitN(m.vars["cache_secret_key"], ":", 2)[1]) {
		t.Errorf("the error shows the secret key")
	}
}

// TestFleetCacheUnwritable: a bucket ferry cannot write fails the plan or
// the apply naming the URL and the credentials it looked for.
func TestFleetCacheUnwritable(t *testing.T) {
	m, _, _ := newCacheEnv(t)
	m.vars["cache_url"] = "file://" + filepath.Join(t.TempDir(), "missing")
	_, err := m.tryPlan(engine.PlanOptions{})
	if err == nil || !strings.Contains(err.Error(), m.vars["cache_url"]) || !strings.Contains(err.Error(), "check that the folder exists and is writable") {
		t.Fatalf("plan: %v, want the URL and what to check", err)
	}
}

// TestFleetCacheWriteRefused: a cache the plan can read but whose
// credentials may not write fails the apply of the machines that upload
// to it, naming the URL and the credentials ferry looked for; no host is
// touched and state records no deploy.
func TestFleetCacheWriteRefused(t *testing.T) {
	m, _, _ := newCacheEnvOn(t, cachetest.NewS3ReadOnly)
	p := m.plan(engine.PlanOptions{})
	res, ae := m.applyFailing(p)
	if len(res.Failed) != len(p.Machines) {
		t.Errorf("failed: %v, want every machine", res.Failed)
	}
	for addr, err := range res.Failed {
		msg := err.Error()
		for _, want := range []string{"upload to the fleet cache", "in the binary cache " + m.vars["cache_url"], "AccessDenied", "ferry looked for AWS credentials"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: %q does not contain %q", addr, msg, want)
			}
		}
	}
	t.Logf("%v", ae)
	st := m.state()
	for _, pm := range p.Machines {
		if rec := st.Machines[pm.Addr]; rec != nil && rec.Path == pm.Path {
			t.Errorf("state records %s as deployed", pm.Addr)
		}
		if got, _ := m.host(pm.Name).CurrentSystem(); got == pm.Path {
			t.Errorf("%s runs the planned system after a refused upload", pm.Addr)
		}
	}
}

// TestSubstitute: with transfer = "substitute" each host fetches what its
// own substituters (its nix.conf) hold and ferry pushes the rest: a cache
// holding the closures of two machines, not the third's system.
func TestSubstitute(t *testing.T) {
	m, _, _ := newCacheEnv(t)
	m.vars["transfer"] = "substitute"
	dir := t.TempDir()
	srv := cachetest.NewFolder(t, dir)
	p := m.plan(engine.PlanOptions{})
	for _, pm := range p.Machines {
		if pm.Transfer == nil || pm.Transfer.Mode != "substitute" {
			t.Fatalf("%s: transfer %+v, want substitute", pm.Addr, pm.Transfer)
		}
	}
	var drvs []string
	for _, pm := range p.Machines {
		drvs = append(drvs, pm.Drv)
	}
	if out, err := exec.Command("nix-store", append([]string{"--realise"}, drvs...)...).CombinedOutput(); err != nil {
		t.Fatalf("build: %v: %s", err, out)
	}
	key, err := binarycache.ParseSecretKey(m.vars["cache_secret_key"])
	if err != nil {
		t.Fatal(err)
	}
	bkt, err := fileblob.OpenBucket(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bkt.Close()
	up := binarycache.NewUploader(bkt, srv.BucketURL, key, 0)
	if _, err := up.Upload(context.Background(), []string{p.Machine("machine.gitServer").Path, p.Machine("machine.proxy").Path}); err != nil {
		t.Fatal(err)
	}
	for _, h := range m.fleet.Hosts {
		conf := "sandbox = false\nsubstituters = " + srv.URL + "\ntrusted-public-keys = " + m.vars["cache_public_key"] + "\n"
		if err := os.WriteFile(filepath.Join(h.Root, "etc-nix", "nix.conf"), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m.takeEvents()
	res := m.applyOK(p)
	evs := m.takeEvents()
	for _, name := range []string{"gitServer", "proxy"} {
		pm := p.Machine("machine." + name)
		if n := srv.Count("GET", narKey(t, pm.Path)); n != 1 {
			t.Errorf("%s: its system's NAR was served %d times, want once", pm.Addr, n)
		}
		if msg := pushed(evs)[pm.Addr]; !strings.HasPrefix(msg, "copied 0 of ") {
			t.Errorf("%s: %q, want nothing pushed", pm.Addr, msg)
		}
	}
	if res.FellBack["machine.storage"] == "" {
		t.Errorf("storage did not fall back: %v", res.FellBack)
	}
	var sent, closure int
	if _, err := fmt.Sscanf(pushed(evs)["machine.storage"], "copied %d of %d", &sent, &closure); err != nil || sent == 0 || sent >= closure {
		t.Errorf("storage: %q, want only what the cache lacked pushed", pushed(evs)["machine.storage"])
	}
	t.Logf("storage: %s; %s", res.FellBack["machine.storage"], pushed(evs)["machine.storage"])
	for _, pm := range p.Machines {
		if got := m.current(pm.Name); got != pm.Path {
			t.Errorf("%s runs %s, want %s", pm.Addr, got, pm.Path)
		}
	}
}
