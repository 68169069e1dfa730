package plan_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	_ "gocloud.dev/secrets/localsecrets"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/statestore/sealed"
)

func testKeys(t *testing.T, b byte) *sealed.Keys {
	t.Helper()
	k, err := sealed.OpenKeys(t.Context(), []string{"base64key://" + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return k
}

// sensitivePlan has a resource whose "password" and "config" are
// sensitive, in every field, beside values that must stay clear.
func sensitivePlan() *plan.Plan {
	p := smallPlan()
	p.Resources = append(p.Resources, &plan.Resource{
		Addr: "aws.db.main", Type: "aws.db", Action: plan.Replace,
		Before: map[string]any{"id": "db-1", "password": "Summer2024!", "config": map[string]any{"user": "admin", "n": json.Number("3")}},
		After: map[string]any{
			"id": spec.Unknown{Source: "aws.db.main.id"}, "password": "Winter2025!",
			"config": map[string]any{"user": "admin", "peer": spec.Unknown{Source: "aws.db.peer.id"}},
			"token":  spec.Unknown{Source: "aws.db.main.token"},
		},
		Args: map[string]any{
			"password": "Winter2025!", "config": map[string]any{"user": "admin", "peer": spec.Ref{Addr: "aws.db.peer", Attr: "id"}},
			"token": spec.Ref{Addr: "aws.db.other", Attr: "token"}, "note": nil,
		},
		DeleteDeposed: map[string]any{"id": "db-0", "password": "Autumn2023!"},
		Sensitive:     []string{"token"}, // also sensitive, by the plan's own list
		DeclaredAt:    "ferry.star:12:1",
	})
	p.Normalize()
	return p
}

func sensitiveAttrs(typ string) []string {
	if typ == "aws.db" {
		return []string{"password", "config", "note"}
	}
	return nil
}

// TestSealedPlan: with a key, only the sensitive values are ciphertext in
// the plan file, the signature covers them, and apply's Unseal gives
// back exactly what was planned.
func TestSealedPlan(t *testing.T) {
	keys := testKeys(t, 1)
	p := sensitivePlan()
	want := sensitivePlan()
	db := p.Resource("aws.db.main")
	before := db.Before
	if err := plan.Seal(t.Context(), p, sensitiveAttrs, keys); err != nil {
		t.Fatal(err)
	}
	if before["password"] != "Summer2024!" {
		t.Errorf("Seal changed an attribute map in place")
	}
	db = p.Resource("aws.db.main")
	if d := cmp.Diff([]string{"config", "password"}, db.Sealed()); d != "" {
		t.Errorf("Sealed() (-want +got):\n%s", d)
	}
	// Null, unknown and bare references hold no secret: they stay clear.
	if !cmp.Equal(db.After["token"], spec.Unknown{Source: "aws.db.main.token"}) || !cmp.Equal(db.Args["token"], spec.Ref{Addr: "aws.db.other", Attr: "token"}) || db.Args["note"] != nil {
		t.Errorf("a value without a secret was sealed: %v %v %v", db.After["token"], db.Args["token"], db.Args["note"])
	}
	if !plan.IsSealed(db.DeleteDeposed["password"]) || db.DeleteDeposed["id"] != "db-0" || db.Before["id"] != "db-1" {
		t.Errorf("sealed: %v", db)
	}
	signKey := bytes.Repeat([]byte{7}, 32)
	if err := plan.Sign(p, signKey); err != nil {
		t.Fatal(err)
	}
	data := mustEncode(t, p)
	for _, secret := range []string{"Summer2024", "Winter2025", "Autumn2023", "admin"} {
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("the plan file holds %q in clear", secret)
		}
	}
	re := regexp.MustCompile(`"password": \{\n\s+"\$sealed": "ferry-sealed:1:base64key:` + keys.Sealer().KeyID() + `:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+"\n\s+\}`)
	if n := len(re.FindAll(data, -1)); n != 4 {
		t.Errorf("%d sealed passwords in the plan file, want 4 (before, after, args, delete_deposed):\n%s", n, data)
	}
	if !bytes.Contains(data, []byte(`"id": "db-1"`)) || !bytes.Contains(data, []byte(`"content": "new"`)) {
		t.Errorf("values that are not sensitive are not in clear")
	}

	// Apply: decode, verify the sealed form, then unseal.
	got, err := plan.Decode("p.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if !got.HasSealed() {
		t.Fatal("the decoded plan has no sealed value")
	}
	if err := plan.Verify(got, signKey); err != nil {
		t.Fatalf("Verify of the sealed plan: %v", err)
	}
	if err := plan.Unseal(t.Context(), got, keys); err != nil {
		t.Fatalf("Unseal: %v", err)
	}
	if got.HasSealed() {
		t.Errorf("sealed values left after Unseal")
	}
	wantDB, gotDB := want.Resource("aws.db.main"), got.Resource("aws.db.main")
	for _, f := range []struct {
		name      string
		want, got map[string]any
	}{{"before", wantDB.Before, gotDB.Before}, {"after", wantDB.After, gotDB.After}, {"args", wantDB.Args, gotDB.Args}, {"delete_deposed", wantDB.DeleteDeposed, gotDB.DeleteDeposed}} {
		if d := cmp.Diff(f.want, f.got); d != "" {
			t.Errorf("%s after Unseal (-planned +unsealed):\n%s", f.name, d)
		}
	}

	// An edited ciphertext breaks the signature before anything opens.
	edited := bytes.Replace(data, []byte(`"$sealed": "ferry-sealed:1:base64key:`+keys.Sealer().KeyID()+`:`), []byte(`"$sealed": "ferry-sealed:1:base64key:`+keys.Sealer().KeyID()+`:AAAA`), 1)
	ep, err := plan.Decode("p.json", edited)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Verify(ep, signKey); err == nil {
		t.Errorf("a plan with an edited sealed value verified")
	}
}

// TestUnsealNeedsTheKey: a sealed plan without the key, or with another,
// says which key it needs; a sealed value moved to another attribute
// does not open.
func TestUnsealNeedsTheKey(t *testing.T) {
	keys := testKeys(t, 1)
	p := sensitivePlan()
	if err := plan.Seal(t.Context(), p, sensitiveAttrs, keys); err != nil {
		t.Fatal(err)
	}
	data := mustEncode(t, p)
	decode := func(data []byte) *plan.Plan {
		d, err := plan.Decode("p.json", data)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	err := plan.Unseal(t.Context(), decode(data), nil)
	if sealed.ReasonOf(err) != sealed.NeedKey || !strings.Contains(err.Error(), "the plan's sensitive value config of aws.db.main (before) is encrypted with a base64key:// key") || !strings.Contains(err.Error(), "--state-secrets") {
		t.Errorf("Unseal without a key: %v", err)
	}
	err = plan.Unseal(t.Context(), decode(data), testKeys(t, 2))
	if sealed.ReasonOf(err) != sealed.WrongKey {
		t.Errorf("Unseal with another key: %v", err)
	}
	moved := decode(data)
	db := moved.Resource("aws.db.main")
	db.After["password"], db.After["config"] = db.After["config"], db.After["password"]
	err = plan.Unseal(t.Context(), moved, keys)
	if sealed.ReasonOf(err) != sealed.Damaged {
		t.Errorf("Unseal of swapped sealed values: %v", err)
	}
}

// TestSealWithoutKey: without a sealing key (none, or encryption turned
// off) the plan keeps its sensitive values in clear, and Unseal of a plan
// without sealed values needs no key.
func TestSealWithoutKey(t *testing.T) {
	off, err := sealed.OpenKeys(t.Context(), []string{"none", "base64key://" + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))})
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	for _, keys := range []*sealed.Keys{nil, off} {
		p := sensitivePlan()
		if err := plan.Seal(t.Context(), p, sensitiveAttrs, keys); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(sensitivePlan(), p); d != "" || p.HasSealed() {
			t.Errorf("Seal without a sealing key changed the plan (-want +got):\n%s", d)
		}
		if err := plan.Unseal(t.Context(), p, nil); err != nil {
			t.Errorf("Unseal of a clear plan without a key: %v", err)
		}
	}
}

func TestDecodeBadSealedValue(t *testing.T) {
	p := smallPlan()
	p.Resources[0].After = map[string]any{"x": map[string]any{"$sealed": "x", "y": 1}}
	for _, bad := range []any{
		map[string]any{"$sealed": "x", "y": "z"},
		map[string]any{"$sealed": 5},
		map[string]any{"$sealed": "not an envelope"},
		map[string]any{"$sealed": "ferry-sealed:1:base64key"},
	} {
		p.Resources[0].After = map[string]any{"x": bad}
		_, err := plan.Decode("p.json", mustEncode(t, p))
		if err == nil || !strings.Contains(err.Error(), "is corrupted") || !strings.Contains(err.Error(), "x of after") {
			t.Errorf("Decode of %v: %v", bad, err)
		}
	}
}

// TestSealedOutputs: a sensitive output's value is never in a plan file:
// sealed with a key (and opened by Unseal), left out without one (and
// filled by FillWithheld from the configuration's outputs); other
// outputs stay clear.
func TestSealedOutputs(t *testing.T) {
	withOutputs := func() *plan.Plan {
		p := smallPlan()
		p.Outputs = []*plan.Output{
			{Name: "password", Value: "Spring2026!", Sensitive: true},
			{Name: "region", Value: "eu-west-1"},
		}
		return p
	}
	keys := testKeys(t, 1)
	for _, tc := range []struct {
		name string
		keys *sealed.Keys
	}{{"sealed", keys}, {"withheld", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			p := withOutputs()
			shared := p.Outputs[0]
			if err := plan.Seal(t.Context(), p, sensitiveAttrs, tc.keys); err != nil {
				t.Fatal(err)
			}
			if shared.Value != "Spring2026!" {
				t.Errorf("Seal changed an output in place")
			}
			data := mustEncode(t, p)
			if bytes.Contains(data, []byte("Spring2026")) {
				t.Fatalf("the plan file holds the sensitive output in clear:\n%s", data)
			}
			if !bytes.Contains(data, []byte(`"value": "eu-west-1"`)) {
				t.Errorf("an output that is not sensitive is not in clear:\n%s", data)
			}
			got, err := plan.Decode("p.json", data)
			if err != nil {
				t.Fatal(err)
			}
			if err := plan.Unseal(t.Context(), got, tc.keys); err != nil {
				t.Fatal(err)
			}
			if tc.keys == nil {
				if !got.Outputs[0].Withheld || got.Outputs[0].Value != nil {
					t.Fatalf("output without a key: %+v", got.Outputs[0])
				}
				err := plan.FillWithheld(got, map[string]any{"region": "x"})
				if err == nil || !strings.Contains(err.Error(), "sensitive output password is not in the plan file") {
					t.Errorf("FillWithheld without the output: %v", err)
				}
				if err := plan.FillWithheld(got, map[string]any{"password": "Spring2026!"}); err != nil {
					t.Fatal(err)
				}
			}
			if d := cmp.Diff(withOutputs().Outputs, got.Outputs); d != "" {
				t.Errorf("outputs at apply (-planned +got):\n%s", d)
			}
		})
	}
	// A sealed output moved to another name does not open.
	p := withOutputs()
	p.Outputs[1].Sensitive = true
	if err := plan.Seal(t.Context(), p, nil, keys); err != nil {
		t.Fatal(err)
	}
	p.Outputs[0].Value, p.Outputs[1].Value = p.Outputs[1].Value, p.Outputs[0].Value
	if err := plan.Unseal(t.Context(), p, keys); sealed.ReasonOf(err) != sealed.Damaged {
		t.Errorf("Unseal of swapped outputs: %v", err)
	}
}
