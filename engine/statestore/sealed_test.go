package statestore_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/blob/memblob"
	_ "gocloud.dev/secrets/localsecrets"

	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/engine/statestore"
	"github.com/nixferry/ferry/engine/statestore/sealed"
	"github.com/nixferry/ferry/engine/statestore/storetest"
)

// Every backend runs the whole conformance suite with a base64key keeper
// (everything it writes is sealed, what tests plant is clear: a mix),
// and the encryption suite.

func secretsOpts(k *sealed.Keys) []statestore.Option {
	if k == nil {
		return nil
	}
	return []statestore.Option{statestore.WithSecrets(k)}
}

func keyedFile(t *testing.T, keys ...*sealed.Keys) []*statestore.Store {
	u := "file://" + filepath.ToSlash(filepath.Join(t.TempDir(), ".ferry"))
	out := make([]*statestore.Store, len(keys))
	for i, k := range keys {
		out[i] = mustOpen(t, u, secretsOpts(k)...)
	}
	return out
}

func keyedMem(t *testing.T, keys ...*sealed.Keys) []*statestore.Store {
	bkt := memblob.OpenBucket(nil)
	t.Cleanup(func() { _ = bkt.Close() })
	out := make([]*statestore.Store, len(keys))
	for i, k := range keys {
		out[i] = statestore.OpenBucket(bkt, "mem://", secretsOpts(k)...) // the bucket is closed above
	}
	return out
}

func (f *fakeS3) keyed(t *testing.T, keys ...*sealed.Keys) []*statestore.Store {
	u := f.bucketURL(t)
	out := make([]*statestore.Store, len(keys))
	for i, k := range keys {
		out[i] = mustOpen(t, u, secretsOpts(k)...)
	}
	return out
}

func (f *fakeGCS) keyed(t *testing.T, keys ...*sealed.Keys) []*statestore.Store {
	name := fmt.Sprintf("ferry-k%d", f.n.Add(1))
	f.srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: name})
	out := make([]*statestore.Store, len(keys))
	for i, k := range keys {
		bkt, err := gcsblob.OpenBucket(t.Context(), nil, name, &gcsblob.Options{Client: f.srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		s := statestore.OpenBucket(bkt, "gs://"+name, secretsOpts(k)...)
		t.Cleanup(func() { _ = s.Close() })
		out[i] = s
	}
	return out
}

// sealedOpener runs the ordinary suite with one key on both Stores.
func sealedOpener(open storetest.KeyedOpener) storetest.Opener {
	return func(t *testing.T) (a, b *statestore.Store) {
		k := storetest.LocalKeys(t, 1)
		s := open(t, k, k)
		return s[0], s[1]
	}
}

func TestSealedConformance(t *testing.T) {
	s3 := newFakeS3(t)
	gcs := newFakeGCS(t)
	for name, open := range map[string]storetest.KeyedOpener{
		"file": keyedFile,
		"mem":  keyedMem,
		"s3":   s3.keyed,
		"gcs":  gcs.keyed,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			t.Run("Conformance", func(t *testing.T) { storetest.Run(t, sealedOpener(open)) })
			t.Run("Encryption", func(t *testing.T) { storetest.RunSealed(t, open) })
		})
	}
}

// TestOpenWithSecretsURL: the keys given to Open through a keeper URL
// seal, and Open takes ownership of them even when it fails.
func TestOpenWithSecretsURL(t *testing.T) {
	raw := bytes.Repeat([]byte{5}, 32)
	keyURL := "base64key://" + base64.URLEncoding.EncodeToString(raw)
	keys, err := sealed.OpenKeys(t.Context(), []string{keyURL})
	if err != nil {
		t.Fatal(err)
	}
	u := "file://" + filepath.ToSlash(filepath.Join(t.TempDir(), ".ferry"))
	s := mustOpen(t, u, statestore.WithSecrets(keys))
	if s.Secrets() != keys {
		t.Errorf("Secrets() is not the keys given")
	}
	l, err := s.Lock(t.Context(), "d", statestore.LockInfo{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(t.Context())
	st := &state.State{Serial: 1, Resources: map[string]*state.Resource{"null.resource.a": {Type: "null.resource", Attrs: map[string]any{"id": "Summer2024!"}}}}
	if err := s.Write(t.Context(), l, st); err != nil {
		t.Fatal(err)
	}
	data, err := s.ObjectForTesting(t.Context(), statestore.SnapshotKey("d", 1))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"format":"ferry-sealed","version":1,"keeper":"base64key","key_id":"` + sealed.LocalKeyID(raw) + `","kind":"state","attrs":{"lineage":"` + st.Lineage + `","serial":"1"},"data_key":"`
	if !strings.HasPrefix(string(data), want) || strings.Contains(string(data), "Summer2024") || !strings.HasSuffix(string(data), "\"}\n") {
		t.Errorf("snapshot as stored:\n%s\nwant it to start with\n%s", data, want)
	}
	// A failing Open closes the keys it was handed.
	keys2, err := sealed.OpenKeys(t.Context(), []string{keyURL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := statestore.Open(t.Context(), "ftp://x", statestore.WithSecrets(keys2)); err == nil {
		t.Fatal("Open of ftp:// succeeded")
	}
	if _, err := keys2.Seal(t.Context(), "state", nil, []byte("x")); err == nil {
		t.Errorf("the keys of a failed Open still seal: not closed")
	}
}
