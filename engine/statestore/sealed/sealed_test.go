package sealed_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gocloud.dev/gcerrors"
	"gocloud.dev/secrets"
	"gocloud.dev/secrets/localsecrets"

	"github.com/nixferry/ferry/engine/statestore/sealed"
)

// localURL is a base64key:// URL of a fixed test key.
func localURL(b byte) string {
	return "base64key://" + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32))
}

func keys(t *testing.T, urls ...string) *sealed.Keys {
	t.Helper()
	k, err := sealed.OpenKeys(t.Context(), urls)
	if err != nil {
		t.Fatalf("OpenKeys: %v", err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return k
}

func wantReason(t *testing.T, err error, want sealed.Reason, parts ...string) {
	t.Helper()
	if got := sealed.ReasonOf(err); got != want {
		t.Fatalf("error %v: reason %d, want %d", err, got, want)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func TestObjectRoundTrip(t *testing.T) {
	k := keys(t, localURL(1))
	data := []byte(`{"format_version": 1, "lineage": "L", "secret": "Summer2024!"}` + "\n")
	attrs := map[string]string{"lineage": "L", "serial": "3"}
	obj, err := k.Seal(t.Context(), "state", attrs, data)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(obj, []byte("Summer2024")) || bytes.Count(obj, []byte("\n")) != 0 {
		t.Fatalf("sealed object holds the secret, or more than one line:\n%s", obj)
	}
	if !sealed.Is(obj) || sealed.Is(data) || sealed.Is(nil) || sealed.Is([]byte("{garbage")) {
		t.Errorf("Is: sealed %v, clear %v", sealed.Is(obj), sealed.Is(data))
	}
	if !sealed.Is([]byte(" {\n  \"format\" : \"ferry-sealed\", \"x\": 1}")) {
		t.Errorf("Is does not recognise a reformatted envelope")
	}
	// Reformatted with sorted keys (jq -S): still recognised and opened.
	var m map[string]any
	if err := json.Unmarshal(obj, &m); err != nil {
		t.Fatal(err)
	}
	sorted, _ := json.MarshalIndent(m, "", "  ")
	if !sealed.Is(sorted) || sealed.Is([]byte(`{"attrs": {}, "format": "x"}`)) {
		t.Errorf("Is of a reformatted envelope: %v", sealed.Is(sorted))
	}
	if h, err := sealed.ParseHeader(sorted); err != nil || h.Kind != "state" {
		t.Errorf("ParseHeader of a reformatted envelope = %+v, %v", h, err)
	}
	if got, _, err := k.Open(t.Context(), "s", "state", sorted); err != nil || !bytes.Equal(got, data) {
		t.Errorf("Open of a reformatted envelope = %q, %v", got, err)
	}
	got, h, err := k.Open(t.Context(), "state of X", "state", obj)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("Open = %q, want %q", got, data)
	}
	want := sealed.Header{Format: "ferry-sealed", Version: 1, Keeper: "base64key", KeyID: k.Sealer().KeyID(), Kind: "state", Attrs: attrs, DataKey: h.DataKey}
	if h.DataKey == "" {
		t.Errorf("no data key in the header")
	}
	if d := cmp.Diff(want, h); d != "" {
		t.Errorf("header (-want +got):\n%s", d)
	}
	// The header can be read from the object's first bytes alone.
	ph, err := sealed.ParseHeader(obj[:bytes.Index(obj, []byte(`"ciphertext"`))+14])
	if err != nil || !cmp.Equal(want, ph) {
		t.Errorf("ParseHeader of a prefix = %+v, %v", ph, err)
	}
	if _, err := sealed.ParseHeader(obj[:40]); err == nil {
		t.Errorf("ParseHeader of a header cut short succeeded")
	}
	// Two seals of the same data differ (a fresh nonce each).
	again, _ := k.Seal(t.Context(), "state", attrs, data)
	if bytes.Equal(again, obj) {
		t.Errorf("two seals are identical")
	}
}

func TestOpenWithoutOrWithAnotherKey(t *testing.T) {
	k1 := keys(t, localURL(1))
	obj, err := k1.Seal(t.Context(), "state", nil, []byte("data"))
	if err != nil {
		t.Fatal(err)
	}
	fp := k1.Sealer().KeyID()
	var none *sealed.Keys
	_, _, err = none.Open(t.Context(), `state of deployment "web" in mem://`, "state", obj)
	wantReason(t, err, sealed.NeedKey, `state of deployment "web" in mem:// is encrypted with a base64key:// key (fingerprint `+fp+`); pass --state-secrets=URL (FERRY_STATE_SECRETS)`)

	k2 := keys(t, localURL(2))
	_, _, err = k2.Open(t.Context(), "state of X", "state", obj)
	wantReason(t, err, sealed.WrongKey, "could not be decrypted with the key given", "it was sealed with another key", fp, k2.Sealer().KeyID())

	// Rotation: a run that seals with a new key opens with the old one.
	rot := keys(t, localURL(2), localURL(1))
	if got, _, err := rot.Open(t.Context(), "s", "state", obj); err != nil || string(got) != "data" {
		t.Errorf("open with the old key second: %q, %v", got, err)
	}
	// Turning encryption off: writes in clear, still opens.
	off := keys(t, "none", localURL(1))
	if off.Sealing() {
		t.Errorf("none first still seals")
	}
	if got, _, err := off.Open(t.Context(), "s", "state", obj); err != nil || string(got) != "data" {
		t.Errorf("open with none first: %q, %v", got, err)
	}
	if _, err := off.Seal(t.Context(), "state", nil, []byte("x")); err == nil {
		t.Errorf("Seal without a sealing key succeeded")
	}
	// A kind mismatch is damage: a journal record is no snapshot.
	_, _, err = k1.Open(t.Context(), "s", "journal", obj)
	wantReason(t, err, sealed.Damaged, "it holds state, not journal")
}

func TestTampered(t *testing.T) {
	k := keys(t, localURL(1))
	obj, err := k.Seal(t.Context(), "state", map[string]string{"serial": "3"}, []byte("some state data"))
	if err != nil {
		t.Fatal(err)
	}
	var o map[string]any
	if err := json.Unmarshal(obj, &o); err != nil {
		t.Fatal(err)
	}
	ct, _ := base64.StdEncoding.DecodeString(o["ciphertext"].(string))
	dk, _ := base64.StdEncoding.DecodeString(o["data_key"].(string))
	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 1
		return c
	}
	rewrite := func(edit func(map[string]any)) []byte {
		c := map[string]any{}
		for k, v := range o {
			c[k] = v
		}
		edit(c)
		data, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"ciphertext bit", rewrite(func(m map[string]any) { m["ciphertext"] = base64.StdEncoding.EncodeToString(flip(ct, len(ct)-1)) }), "ciphertext or its clear header was damaged or edited"},
		{"nonce bit", rewrite(func(m map[string]any) { m["ciphertext"] = base64.StdEncoding.EncodeToString(flip(ct, 0)) }), "ciphertext or its clear header was damaged or edited"},
		{"data key bit", rewrite(func(m map[string]any) { m["data_key"] = base64.StdEncoding.EncodeToString(flip(dk, 30)) }), "data key does not decrypt with the key that sealed it"},
		{"attrs edited", rewrite(func(m map[string]any) { m["attrs"] = map[string]string{"serial": "4"} }), "clear header was damaged or edited"},
		{"cut short", obj[:len(obj)/2], "cut short"},
		{"not base64", rewrite(func(m map[string]any) { m["ciphertext"] = "!!!" }), "not base64"},
		{"no keeper", rewrite(func(m map[string]any) { delete(m, "keeper") }), "no keeper"},
	} {
		_, _, err := k.Open(t.Context(), "state X", "state", tc.data)
		if sealed.ReasonOf(err) != sealed.Damaged || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "state X is encrypted but damaged") {
			t.Errorf("%s: %v, want damage saying %q", tc.name, err, tc.want)
		}
	}
	// A newer envelope is not damage.
	_, _, err = k.Open(t.Context(), "state X", "state", rewrite(func(m map[string]any) { m["version"] = 2 }))
	wantReason(t, err, sealed.Newer, "upgrade ferry")
}

func TestValueRoundTrip(t *testing.T) {
	k := keys(t, localURL(1))
	attrs := map[string]string{"address": "aws.db.main", "attribute": "password"}
	s, err := k.SealValue(t.Context(), "plan-value", attrs, []byte(`"Summer2024!"`))
	if err != nil {
		t.Fatal(err)
	}
	if !sealed.IsValue(s) || strings.Contains(s, "Summer") || !strings.HasPrefix(s, "ferry-sealed:1:base64key:"+k.Sealer().KeyID()+":") {
		t.Fatalf("sealed value %q", s)
	}
	h, err := sealed.ValueHeader(s)
	if err != nil || h.Keeper != "base64key" || h.KeyID != k.Sealer().KeyID() {
		t.Errorf("ValueHeader = %+v, %v", h, err)
	}
	got, err := k.OpenValue(t.Context(), "v", "plan-value", attrs, s)
	if err != nil || string(got) != `"Summer2024!"` {
		t.Fatalf("OpenValue = %q, %v", got, err)
	}
	// Moved to another attribute: it does not open.
	_, err = k.OpenValue(t.Context(), "v", "plan-value", map[string]string{"address": "aws.db.main", "attribute": "user"}, s)
	wantReason(t, err, sealed.Damaged, "header")
	var none *sealed.Keys
	_, err = none.OpenValue(t.Context(), "the plan's value", "plan-value", attrs, s)
	wantReason(t, err, sealed.NeedKey, "the plan's value is encrypted with a base64key:// key")
	_, err = k.OpenValue(t.Context(), "v", "plan-value", attrs, "ferry-sealed:1:base64key")
	wantReason(t, err, sealed.Damaged)
}

// TestCloudKeyNames: for cloud keepers a key under another name may be the
// same key (an alias and its ARN): it is tried, and a failure is not
// called damage.
func TestCloudKeyNames(t *testing.T) {
	var raw [32]byte
	raw[0] = 9
	alias := sealed.NewKeys(sealed.NewKeeper(localsecrets.NewKeeper(raw), "awskms", "alias/ferry"))
	arn := sealed.NewKeys(sealed.NewKeeper(localsecrets.NewKeeper(raw), "awskms", "arn:aws:kms:eu-west-1:1:key/k"))
	other := sealed.NewKeys(sealed.NewKeeper(localsecrets.NewKeeper([32]byte{1}), "awskms", "alias/ferry"))
	defer alias.Close()
	defer arn.Close()
	defer other.Close()
	obj, err := alias.Seal(t.Context(), "state", nil, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := arn.Open(t.Context(), "s", "state", obj); err != nil || string(got) != "x" {
		t.Errorf("open under another name of the same key: %q, %v", got, err)
	}
	_, _, err = other.Open(t.Context(), "s", "state", obj)
	wantReason(t, err, sealed.Failed, "could not be decrypted with awskms://alias/ferry")
	if alias.Holds(sealed.Header{Keeper: "awskms", KeyID: "alias/ferry"}) != true || arn.Holds(sealed.Header{Keeper: "awskms", KeyID: "alias/ferry"}) {
		t.Errorf("Holds: the very key only")
	}
}

func TestOpenKeysErrors(t *testing.T) {
	secret := base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	for _, tc := range []struct {
		urls []string
		want string
	}{
		{[]string{"base64key://"}, "needs a key"},
		{[]string{"base64key://c2hvcnQ="}, "32 bytes"},
		{[]string{"base64kye://" + secret}, `scheme "base64kye" is not supported`},
		{[]string{secret}, "not a keeper URL"},
		{[]string{"base64key://" + secret + "?x=1"}, "no query parameters"},
		{[]string{localURL(1), "none"}, "may only come first"},
	} {
		k, err := sealed.OpenKeys(context.Background(), tc.urls)
		if err == nil {
			_ = k.Close()
			t.Errorf("OpenKeys(%q) succeeded", tc.urls)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("OpenKeys(%q) = %v, want %q", tc.urls, err, tc.want)
		}
		if strings.Contains(err.Error(), secret[:20]) {
			t.Errorf("OpenKeys(%q): the error shows the key: %v", tc.urls, err)
		}
	}
	if k, err := sealed.OpenKeys(context.Background(), []string{"", " "}); k != nil || err != nil {
		t.Errorf("OpenKeys of nothing = %v, %v; want nil, nil", k, err)
	}
	k := keys(t, localURL(3))
	if s := k.Sealer().String(); strings.Contains(s, base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32))[:10]) || !strings.Contains(s, k.Sealer().KeyID()) {
		t.Errorf("keeper named %q", s)
	}
	var nilKeys *sealed.Keys
	if nilKeys.Sealing() || nilKeys.Sealer() != nil || nilKeys.Close() != nil || nilKeys.Holds(sealed.Header{}) {
		t.Errorf("nil Keys are not empty")
	}
}

// kmsLike is a keeper that behaves like AWS KMS where it matters here: a
// call costs a round trip (counted) and plaintexts above 4 KiB are
// refused.
type kmsLike struct {
	inner          *secrets.Keeper
	encrypts, decs atomic.Int64
}

func (k *kmsLike) Encrypt(ctx context.Context, pt []byte) ([]byte, error) {
	k.encrypts.Add(1)
	if len(pt) > 4096 {
		return nil, fmt.Errorf("ValidationException: plaintext of %d bytes, at most 4096", len(pt))
	}
	return k.inner.Encrypt(ctx, pt)
}

func (k *kmsLike) Decrypt(ctx context.Context, ct []byte) ([]byte, error) {
	k.decs.Add(1)
	return k.inner.Decrypt(ctx, ct)
}

func (k *kmsLike) Close() error                       { return k.inner.Close() }
func (k *kmsLike) ErrorAs(error, any) bool            { return false }
func (k *kmsLike) ErrorCode(error) gcerrors.ErrorCode { return gcerrors.Unknown }

// TestDataKeys: whatever the size of what is sealed, the keeper encrypts
// one 32-byte data key per run, and a reader decrypts each data key once.
func TestDataKeys(t *testing.T) {
	kms := &kmsLike{inner: localsecrets.NewKeeper([32]byte{4})}
	writer := sealed.NewKeys(sealed.NewKeeper(secrets.NewKeeper(kms), "awskms", "alias/ferry"))
	defer writer.Close()
	big := bytes.Repeat([]byte("x"), 3<<20) // a large deployment's snapshot
	var objs [][]byte
	for range 50 { // a snapshot, then an apply's group commits
		obj, err := writer.Seal(t.Context(), "journal", nil, big[:1+len(objs)*1000])
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, obj)
	}
	value, err := writer.SealValue(t.Context(), "plan-value", nil, []byte(`"s"`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writer.Seal(t.Context(), "state", nil, big); err != nil {
		t.Fatalf("Seal of 3 MiB through a keeper that takes 4 KiB: %v", err)
	}
	if n := kms.encrypts.Load(); n != 1 {
		t.Errorf("%d keeper encryptions for one run, want 1", n)
	}
	readerKMS := &kmsLike{inner: localsecrets.NewKeeper([32]byte{4})}
	reader := sealed.NewKeys(nil, sealed.NewKeeper(secrets.NewKeeper(readerKMS), "awskms", "alias/ferry"))
	defer reader.Close()
	for i, obj := range objs {
		got, _, err := reader.Open(t.Context(), "s", "journal", obj)
		if err != nil || len(got) != 1+i*1000 {
			t.Fatalf("Open %d: %d bytes, %v", i, len(got), err)
		}
	}
	if got, err := reader.OpenValue(t.Context(), "v", "plan-value", nil, value); err != nil || string(got) != `"s"` {
		t.Errorf("OpenValue = %q, %v", got, err)
	}
	if n := kms.decs.Load(); n != 0 {
		t.Errorf("the writer's keeper decrypted %d times", n)
	}
	if n := readerKMS.decs.Load(); n != 1 {
		t.Errorf("the reader's keeper decrypted %d times for 51 objects of one run, want 1", n)
	}
}
